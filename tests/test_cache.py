"""The build cache and incremental rendering: faster, never different."""

from __future__ import annotations

import datetime
import logging
import os
import shutil
import signal
import sqlite3
import sys
import time
import types
from contextlib import closing
from pathlib import Path

import pytest

from generator import build as build_module
from generator import cache as cache_module
from generator import config, in_place, load, papers
from generator.build import Project, Warm, build
from generator.cache import Cache
from generator.errors import BuildFailed

from .conftest import REPO, paper_text
from .test_build import PAPERS, clean_build, tree_digest

MORE = {
    f"extra-{i}": paper_text(
        f"Adapter Study Number {i} of Instruction Data",
        topics='["instruction-tuning"]',
        tags='["lora", "flan"]' if i % 2 else '["scaling"]',
        added=f'"2024-0{1 + i}-15"',
        body=f"Adapters and instruction data, case {i}: low-rank updates help scaling.",
    )
    for i in range(4)
}


@pytest.mark.parametrize("warm", [False, True], ids=["new process", "warm process"])
def test_incremental_builds_equal_clean_ones_through_a_series_of_edits(
    make_project, tmp_path, warm, monkeypatch
):
    """Each build after an edit equals a clean build: in a new process each time (`build`),
    and in one that keeps its reading and cache objects between builds (`serve`), which is
    also told nothing of what changed: it must notice by itself."""
    monkeypatch.setattr(in_place, "REBUILD_SHARE", 1)  # the search tier updated in place, never anew
    project = make_project({**PAPERS, **MORE})
    kept = Warm() if warm else None
    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    project = Project(project.root, project.content, templates, project.output)
    papers = project.content / "papers"

    def edit(path, old, new):
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))

    edits = [
        ("abstract", lambda: edit(papers / "extra-1.md", "case 1", "case one, with adapters")),
        ("title", lambda: edit(papers / "lora-paper.md", "LoRA: Low-Rank", "LoRA: Very Low-Rank")),
        ("tags", lambda: edit(papers / "extra-2.md", '["scaling"]', '["scaling", "flan"]')),
        ("added", lambda: edit(papers / "old-paper.md", "2023-01-01", "2024-12-01")),
        ("new paper", lambda: (papers / "new-one.md").write_text(paper_text("A Brand New Adapter Paper"))),
        ("removed paper", lambda: (papers / "extra-3.md").unlink()),
        ("topics.yml", lambda: edit(project.content / "topics.yml", '"Fine-tuning"', '"Fine tuning"')),
        ("site.yml", lambda: edit(project.content / "site.yml", "Test Catalogue", "Renamed Catalogue")),
        ("template", lambda: edit(templates / "paper.html", "Related papers", "Similar papers")),
        (
            "listing entry template",
            lambda: edit(templates / "_macros.html", 'class="paper-item"', 'class="paper-item listed"'),
        ),
        (
            "static file",
            lambda: edit(
                templates / "static" / "style.css",
                "}",
                "} ",
            ),
        ),
    ]
    build(project, warm=kept)
    for step, (what, change) in enumerate(edits):
        change()
        result = build(project, warm=kept)
        assert tree_digest(project.output) == clean_build(project, tmp_path, f"clean-{step}"), what
        assert result.files_written > 0, what
        if what == "added":  # a file broken, then mended: the failed build leaves nothing behind
            broken = papers / "extra-1.md"
            text = broken.read_text()
            broken.write_text(text.replace("title:", "titel:"))
            with pytest.raises(BuildFailed):
                build(project, warm=kept)
            broken.write_text(text)
            assert build(project, warm=kept).files_written == 0, "mended"
    site = (project.output / "index.html").read_text()
    assert "Renamed Catalogue" in site and "Fine tuning" in (project.output / "topics/index.html").read_text()


def test_a_no_change_rebuild_renders_and_writes_nothing(make_project):
    project = make_project({**PAPERS, **MORE})
    first = build(project)
    assert first.rendered == first.pages
    again = build(project)
    assert again.rendered == 0 and again.files_written == 0
    assert "0 rendered" in again.summary()
    one = project.content / "papers" / "flan-paper.md"
    one.write_text(one.read_text().replace("helps a key metric", "helps a key measure"))
    edited = build(project)
    assert 0 < edited.rendered < edited.pages  # its page, listings it is on, pages that list it as related


def test_a_checkout_elsewhere_with_the_last_builds_cache_and_site_builds_incrementally(
    make_project, tmp_path, monkeypatch
):
    """What CI does with actions/cache: a fresh checkout (another folder, every file's time new)
    gets the last build's .cache/ and site/ back, and a paper is edited. Nothing depends on the
    old folder or file times: the edit renders few pages, reads the rest from the cache, and the
    site equals a clean build."""
    project = make_project({**PAPERS, **MORE})
    build(project)
    moved_root = tmp_path / "elsewhere" / "checkout"
    shutil.copytree(project.root, moved_root, ignore=shutil.ignore_patterns("elsewhere"), symlinks=True)
    later = time.time_ns() + 3600 * 10**9
    for path in moved_root.rglob("*"):
        os.utime(path, ns=(later, later))  # all newer than anything the first build saw
    moved = Project(moved_root, moved_root / "content", project.templates, moved_root / "site")
    shutil.rmtree(project.root / ".cache")  # nothing can come from the old folder
    one = moved.content / "papers" / "flan-paper.md"
    one.write_text(one.read_text().replace("helps a key metric", "helps a key measure"))
    parsed = []
    process = papers._process
    monkeypatch.setattr(papers, "_process", lambda doc, *args: parsed.append(doc.path) or process(doc, *args))
    result = build(moved)
    assert parsed == ["content/papers/flan-paper.md"]  # the others came from the restored cache
    assert 0 < result.rendered < result.pages / 2
    assert tree_digest(moved.output) == clean_build(moved, tmp_path, "clean")


def test_without_the_cache_nothing_is_read_or_written(make_project):
    project = make_project(PAPERS)
    build(project, use_cache=False)
    assert not (project.root / ".cache").exists()
    shutil.rmtree(project.output)  # so that pages are rendered, and templates compiled
    build(project)
    assert (project.root / ".cache" / "papercat.sqlite").is_file()
    assert "*" in (project.root / ".cache" / ".gitignore").read_text()
    assert list((project.root / ".cache" / "templates").glob("*.cache"))  # compiled templates


def test_a_corrupt_cache_is_ignored_with_a_warning(make_project, tmp_path, caplog):
    project = make_project(PAPERS)
    build(project)
    (project.root / ".cache" / "papercat.sqlite").write_bytes(b"not a database" * 100)
    shutil.rmtree(project.output)
    with caplog.at_level(logging.WARNING):
        build(project)
    assert "build cache" in caplog.text
    assert tree_digest(project.output) == clean_build(project, tmp_path, "clean")


def test_cache_entries_are_dropped_when_the_version_changes_or_unused(tmp_path):
    calls = []

    def compute(value):
        calls.append(value)
        return value

    first = Cache(tmp_path, "v1")
    assert first.memo("stage", "a", lambda: compute("A")) == "A"
    assert first.memo("stage", "b", lambda: compute("B")) == "B"
    first.save()
    second = Cache(tmp_path, "v1")
    assert second.memo("stage", "a", lambda: compute("A2")) == "A"  # remembered
    second.save()  # "b" was not used by this build: dropped
    third = Cache(tmp_path, "v1")
    assert third.memo("stage", "b", lambda: compute("B2")) == "B2"
    assert Cache(tmp_path, "v2").memo("stage", "a", lambda: compute("A3")) == "A3"  # new generator version
    assert calls == ["A", "B", "B2", "A3"]


def test_the_cache_file_has_large_pages_and_another_versions_file_is_replaced(tmp_path):
    with closing(sqlite3.connect(tmp_path / cache_module.FILE_NAME)) as db, db:  # as older papercats made it
        db.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT)")
        db.execute("CREATE TABLE entries (stage TEXT, key TEXT, value BLOB, PRIMARY KEY (stage, key))")
        db.execute("INSERT INTO meta VALUES ('version', 'old')")
        db.execute("INSERT INTO entries VALUES ('stage', 'a', x'00')")
    cache = Cache(tmp_path, "new")
    cache.put("stage", "b", "B")
    cache.save()
    with closing(sqlite3.connect(tmp_path / cache_module.FILE_NAME)) as db:
        assert db.execute("PRAGMA page_size").fetchone()[0] == cache_module.PAGE_SIZE
        assert db.execute("SELECT stage, key FROM entries").fetchall() == [("stage", "b")]
    assert Cache(tmp_path, "new").get("stage", "b") == "B"


def test_library_versions_are_those_importlib_metadata_finds(tmp_path, monkeypatch):
    from importlib import metadata

    found = cache_module._versions(cache_module.LIBRARIES)
    assert found == {name: metadata.version(name) for name in cache_module.LIBRARIES}
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, names in (
        (first, ["Jinja2-9.0.dist-info", "python_slugify-1.2.3.dist-info"]),
        (second, ["jinja2-8.0.dist-info", "text_unidecode-7.7.dist-info"]),
    ):
        for name in names:
            (folder / name).mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [str(first), str(second)])
    assert cache_module._versions(["jinja2", "python-slugify", "text-unidecode", "no-such-thing"]) == {
        "jinja2": "9.0",  # the first folder on the path wins, whatever the name's case
        "python-slugify": "1.2.3",
        "text-unidecode": "7.7",
        "no-such-thing": "-",
    }


def test_the_code_version_follows_the_generator_source(tmp_path, monkeypatch):
    package = tmp_path / "generator"
    package.mkdir()
    (package / "cache.py").write_text("x = 1\n")
    monkeypatch.setattr(cache_module, "__file__", str(package / "cache.py"))
    before = cache_module.code_version()
    (package / "render.py").write_text("y = 2\n")
    assert cache_module.code_version() != before


@pytest.mark.parametrize("bad", [b"", b"{}", b'{"format": 2, "files": {"index.html": "x"}}', b"\xff"])
def test_a_damaged_manifest_means_a_full_render(make_project, bad):
    project = make_project(PAPERS)
    build(project)
    (project.output / ".papercat-manifest.json").write_bytes(bad)
    result = build(project)
    assert result.rendered == result.pages


def damage_entries(project: Project, where: str = "") -> Path:
    """Overwrite the cache's entries (those `where` picks, an SQL condition) with junk; the
    cache file's path."""
    database = project.root / ".cache" / "papercat.sqlite"
    with closing(sqlite3.connect(database)) as db, db:
        db.execute("UPDATE entries SET value = x'00112233'" + (f" WHERE {where}" if where else ""))
    return database


def test_damaged_cache_entries_are_recomputed_and_a_junk_file_replaced(make_project, tmp_path, caplog):
    project = make_project(PAPERS)
    build(project)
    database = damage_entries(project)
    shutil.rmtree(project.output)
    with caplog.at_level(logging.WARNING):
        build(project)
    assert "damaged entry" in caplog.text
    assert tree_digest(project.output) == clean_build(project, tmp_path, "clean-1")
    database.write_bytes(b"junk")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        build(project)  # warns once, then makes a new cache file
    assert "made anew" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        again = build(project)
    assert caplog.text == "" and again.rendered == 0


def test_a_state_file_round_trips_and_is_ignored_when_stale_or_damaged(tmp_path, caplog):
    Cache(tmp_path, "v1").save_file("state", {"rows": [1, 2]})
    assert Cache(tmp_path, "v1").load_file("state") == {"rows": [1, 2]}
    assert Cache(tmp_path, "v2").load_file("state") is None  # another generator version
    assert Cache(tmp_path, "v1").load_file("other") is None
    assert list(tmp_path.glob("*.part")) == []
    (tmp_path / "state.pickle").write_bytes(b"\x80\x05junk")
    with caplog.at_level(logging.WARNING):
        assert Cache(tmp_path, "v1").load_file("state") is None
    assert "made anew" in caplog.text
    disabled = Cache.disabled()
    disabled.save_file("state", 1)
    assert disabled.load_file("state") is None


def test_a_state_file_saved_again_deletes_what_a_killed_save_left(tmp_path):
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()  # a process that has ended: its number is free
    left = tmp_path / f"state.pickle.{gone.pid}.part"
    left.write_bytes(b"half a pickle")
    saving = tmp_path / f"state.pickle.{os.getppid()}.part"  # a save still at work
    saving.write_bytes(b"being written")
    other = tmp_path / f"other.pickle.{gone.pid}.part"  # another file's: left to its saves
    other.write_bytes(b"x")
    Cache(tmp_path, "v1").save_file("state", {"rows": [1]})
    assert not left.exists() and saving.exists() and other.exists()
    assert Cache(tmp_path, "v1").load_file("state") == {"rows": [1]}


def test_related_papers_start_from_the_last_builds_state(make_project, tmp_path, monkeypatch, caplog):
    from generator import related

    project = make_project(PAPERS)
    build(project)
    state = project.root / ".cache" / "related-state.pickle"
    assert state.is_file()
    given = []
    real = related.update
    monkeypatch.setattr(
        related, "update", lambda papers, previous: given.append(previous) or real(papers, previous)
    )
    paper = sorted((project.content / "papers").glob("*.md"))[0]
    paper.write_text(paper.read_text() + "\nA sentence about zyxomatic quorbling.\n")
    build(project, jobs=1)  # computed in this process, where update is watched
    assert isinstance(given[-1], related.State)
    assert tree_digest(project.output) == clean_build(project, tmp_path, "clean-1")
    state.write_bytes(b"damaged")
    paper.write_text(paper.read_text() + "\nAnd another one.\n")
    with caplog.at_level(logging.WARNING):
        build(project, jobs=1)
    assert given[-1] is None and "related-state.pickle" in caplog.text
    assert tree_digest(project.output) == clean_build(project, tmp_path, "clean-2")


def test_cache_entries_of_the_wrong_kind_are_made_anew_with_one_warning(make_project, tmp_path, caplog):
    import pickle

    project = make_project({**PAPERS, **MORE})
    build(project)
    database = project.root / ".cache" / "papercat.sqlite"
    with sqlite3.connect(database) as db:
        db.execute("UPDATE entries SET value = ?", (pickle.dumps(42),))  # valid pickles, wrong things
    db.close()
    shutil.rmtree(project.output)
    with caplog.at_level(logging.WARNING):
        build(project)
    assert caplog.text.count("ignoring a damaged entry") == 1
    assert "damaged entries of the build cache were made anew" in caplog.text
    assert tree_digest(project.output) == clean_build(project, tmp_path, "clean")


def test_a_cache_folder_that_is_a_file_only_costs_a_warning(make_project, tmp_path, caplog):
    project = make_project(PAPERS)
    (project.root / ".cache").write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        build(project)
    assert "build cache" in caplog.text
    assert tree_digest(project.output) == clean_build(project, tmp_path, "clean")


def test_a_missing_related_state_is_made_again_by_a_build_with_no_change(make_project):
    project = make_project(PAPERS)
    build(project)
    state = project.root / ".cache" / "related-state.pickle"
    state.unlink()
    build(project)
    assert state.is_file()


def test_a_warm_cache_hands_back_its_objects_and_drops_unused_ones(tmp_path):
    cache = Cache(tmp_path / ".cache", "v1", keep_objects=True)
    value = ("a", ["b"])
    cache.put("stage", "k1", value)
    cache.put("stage", "k2", "other")
    cache.save()
    again = cache.begin()
    assert again.get("stage", "k1", tuple) is value  # not unpickled anew
    assert again.get("stage", "k1", dict) is None  # the kind is still checked
    again.save()  # k2 was not used: gone from the objects and from the file
    assert again.begin().get("stage", "k2") is None
    assert Cache(tmp_path / ".cache", "v1").get("stage", "k1", tuple) == value


def test_documents_are_read_again_only_when_their_stat_changes(tmp_path):
    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / "a.md").write_text("one")
    (papers / "b.md").write_text("two")
    known: dict = {}
    first, _ = load.load_documents(papers, tmp_path, known)
    (papers / "b.md").write_text("TWO")  # same size, written at once: the stat still differs
    second, _ = load.load_documents(papers, tmp_path, known)
    assert second[0] is first[0] and second[1].text == "TWO"
    (papers / "a.md").unlink()
    third, _ = load.load_documents(papers, tmp_path, known)
    assert [d.stem for d in third] == ["b"] and set(known) == {"b.md"}


@pytest.fixture
def settled(monkeypatch):
    """Every paper file counts as settled: its status did not change within a timestamp's
    tick of its reading (as if written more than load.RACY_NS before the build)."""
    monkeypatch.setattr(load, "RACY_NS", -(10**9))


def reads(monkeypatch) -> list[str]:
    """The names of the paper files read from now on."""
    names, real = [], load.read_document
    monkeypatch.setattr(
        load, "read_document", lambda source, *a: names.append(os.path.basename(source)) or real(source, *a)
    )
    return names


def test_a_new_process_reads_only_the_paper_files_whose_stat_changed(
    make_project, tmp_path, monkeypatch, settled
):
    project = make_project({**PAPERS, **MORE})
    build(project)
    read = reads(monkeypatch)
    assert build(project).rendered == 0 and read == []
    paper = project.content / "papers" / "old-paper.md"
    info = paper.stat()
    paper.write_text(paper.read_text().replace("carefully", "CAREFULLY"))  # the same size
    os.utime(paper, ns=(info.st_atime_ns, info.st_mtime_ns))  # and modification time: only its ctime tells
    build(project)
    assert read == ["old-paper.md"]
    assert tree_digest(project.output) == clean_build(project, tmp_path, "clean-1")
    read.clear()
    topics = project.content / "topics.yml"
    topics.write_text(topics.read_text().replace("Training few parameters.", "Training a few parameters."))
    build(project)  # every file is checked against the topics again: all are read
    assert sorted(read) == sorted(f"{slug}.md" for slug in {**PAPERS, **MORE})
    assert tree_digest(project.output) == clean_build(project, tmp_path, "clean-2")


def test_paper_files_changed_within_a_tick_of_their_reading_are_read_again(make_project, monkeypatch):
    project = make_project(PAPERS)  # files written just now, as by an editor right before a build
    build(project)
    read = reads(monkeypatch)
    build(project)
    assert sorted(read) == sorted(f"{slug}.md" for slug in PAPERS)


def test_a_damaged_entry_of_a_file_not_read_is_made_again_from_the_file(
    make_project, tmp_path, settled, caplog
):
    project = make_project(PAPERS)
    build(project)
    damage_entries(project, "stage = 'document'")
    with caplog.at_level(logging.WARNING):
        build(project)
    assert "damaged entry" in caplog.text
    assert tree_digest(project.output) == clean_build(project, tmp_path, "clean")
    assert build(project).rendered == 0  # the entries made again are found


class _Later(datetime.date):
    """A date whose today() is far ahead (module-level: the cache pickles it)."""

    @classmethod
    def today(cls):
        return cls(2999, 1, 1)


def test_a_new_process_finds_each_unchanged_papers_own_warnings_in_the_cache(make_project, monkeypatch):
    from generator import check

    short = paper_text("A Short One", tags='["lora"]', added='"2024-02-02"', body="Too short.")
    project = make_project({**PAPERS, "short-one": short})
    first = build(project).warnings
    looked, real = [], check._paper_warnings
    monkeypatch.setattr(check, "_paper_warnings", lambda p, today: looked.append(p.slug) or real(p, today))
    again = build(project)
    assert looked == [] and again.warnings == first > 0
    paper = project.content / "papers" / "short-one.md"
    paper.write_text(paper.read_text().replace("Too short.", "Still too short."))
    found = [w.message for w in build(project).found if w.path.endswith("short-one.md")]
    assert "abstract is only 16 characters" in found and looked == ["short-one"]  # this file only
    monkeypatch.setattr(check, "dt", types.SimpleNamespace(date=_Later))  # check's today() only
    build(project)  # another day: every paper looked at again ('added' may be in the future no longer)
    assert sorted(looked[1:]) == sorted([*PAPERS, "short-one"])


def test_a_file_not_read_is_read_when_its_result_is_not_at_hand_or_reported_if_it_cannot_be(make_project):
    project = make_project(PAPERS)
    topics = config.load_topics(project.content / "topics.yml", "topics.yml")[0]
    file = project.content / "papers" / "old-paper.md"
    text = file.read_text()
    doc = load.RawDocument("content/papers/old-paper.md", "old-paper", None, "a stale key", str(file))
    found, errors = papers.process_documents([doc], topics, Cache.disabled(), 1)
    assert not errors and found[0].digest == cache_module.digest(
        load.text_key(doc.path, text), cache_module.digest(repr(topics))
    )
    fresh, _ = papers.process_documents(
        [load.RawDocument(doc.path, doc.stem, text)], topics, Cache.disabled(), 1
    )
    assert found == fresh  # keyed by what was read, not by the stale key
    file.unlink()  # gone since the load looked at it
    found, errors = papers.process_documents([doc], topics, Cache.disabled(), 1)
    assert found == [] and [(e.path, e.message) for e in errors] == [
        ("content/papers/old-paper.md", "cannot read the file (No such file or directory)")
    ]


def test_a_warm_process_updates_the_search_tier_from_the_parts_a_build_left(
    make_project, tmp_path, monkeypatch
):
    """serve's first edit updates the abstracts tier from the parts `build` left in .cache/
    instead of making it anew, and the site equals a clean build."""
    monkeypatch.setattr(in_place, "REBUILD_SHARE", 1)
    made, make = [], in_place.AbstractsTier._make

    def counted(self, *args):
        made.append(1)
        make(self, *args)

    monkeypatch.setattr(in_place.AbstractsTier, "_make", counted)
    project = make_project({**PAPERS, **MORE})
    build(project, jobs=1)  # the tier is made in this process, which the count sees
    assert made == [1]
    paper = project.content / "papers" / "extra-1.md"
    paper.write_text(paper.read_text().replace("case 1", "case one, quantised"))
    warm = Warm()
    assert build(project, warm=warm, jobs=1).files_written > 0
    assert made == [1]  # updated in place, from the cache's parts
    assert tree_digest(project.output) == clean_build(project, tmp_path, "clean")


@pytest.mark.parametrize("jobs", [1, 2], ids=["here", "in workers"])
def test_papers_are_cached_as_the_workers_pickled_them_and_read_back_unchanged(
    make_project, monkeypatch, jobs
):
    project = make_project({**PAPERS, **MORE})
    monkeypatch.setattr("generator.parallel.MIN_ITEMS", 1)  # workers even for a few papers
    build(project, jobs=jobs)
    cache = Cache(project.root / ".cache", cache_module.code_version())
    docs, _ = load.load_documents(project.content / "papers", project.root)
    topics = config.load_topics(project.content / "topics.yml", "topics.yml")[0]

    def refuse(*_):
        raise AssertionError("a paper was processed again")

    monkeypatch.setattr(papers, "_process", refuse)
    found, errors = papers.process_documents(docs, topics, cache, jobs)
    assert not errors and len(found) == len(docs) == len(PAPERS) + len(MORE)
    monkeypatch.undo()
    fresh, _ = papers.process_documents(docs, topics, Cache.disabled(), jobs)
    assert found == fresh  # every field, body HTML and search terms included


def test_document_keys_are_remembered_and_digested_again_only_for_changed_files(make_project, monkeypatch):
    project = make_project({**PAPERS, **MORE})
    docs, _ = load.load_documents(project.content / "papers", project.root)
    topics = config.load_topics(project.content / "topics.yml", "topics.yml")[0]
    cache, known = Cache.disabled(), {}
    first, _ = papers.process_documents(docs, topics, cache, 1, known_keys=known)
    assert len(known) == len(docs)
    edited = load.RawDocument(docs[0].path, docs[0].stem, docs[0].text + "One more sentence.\n")
    digested = []
    real = papers.digest
    monkeypatch.setattr(papers, "digest", lambda *parts: digested.append(parts[0]) or real(*parts))
    again, _ = papers.process_documents([edited, *docs[1:]], topics, cache, 1, known_keys=known)
    assert digested == [repr(topics), load.text_key(edited.path, edited.text)]  # the topics, the edited file
    monkeypatch.undo()
    fresh, _ = papers.process_documents([edited, *docs[1:]], topics, cache, 1)
    assert again == fresh and again[0].digest != first[0].digest
    assert len(known) == len(docs)  # the edited file's old key is forgotten


def test_a_warm_process_has_its_helper_compute_related_papers_and_computes_them_itself_if_it_dies(
    make_project, tmp_path, monkeypatch
):
    from generator import parallel, related

    monkeypatch.setattr(parallel, "MIN_ITEMS", 1)  # the helper, even for a few papers
    project = make_project({**PAPERS, **MORE})
    state = project.root / ".cache" / "related-state.pickle"
    warm = Warm()  # forks the helper, which has related.update as it is now
    assert warm.related.pid
    marks = tmp_path / "computed-by"  # by any process forked from now on, or this one
    real = related.update

    def update(*args):
        with marks.open("a") as file:
            file.write(f"{os.getpid()}\n")
        return real(*args)

    monkeypatch.setattr(related, "update", update)
    here = lambda: marks.read_text().split() if marks.exists() else []  # noqa: E731
    paper = project.content / "papers" / "extra-1.md"
    original = paper.read_text()
    for round_, words in enumerate(("zyxomatic quorbling", "quorbling again", "zyxomatic again")):
        paper.write_text(original + f"\nA sentence about {words}.\n")
        build(project, warm=warm)
        assert here() == []  # computed by the helper...
        assert tree_digest(project.output) == clean_build(project, tmp_path, f"clean-{round_}")
        marks.unlink()  # (by the clean build's child)
    saved = state.stat().st_mtime_ns  # ...which saves its state for a new process too
    helper = warm.related.pid
    os.kill(helper, signal.SIGSTOP)  # alive as the texts are sent; killed before it answers
    start = build_module.RelatedPapers.start
    monkeypatch.setattr(
        build_module.RelatedPapers, "start", lambda self, papers: start(self, papers) or os.kill(helper, 9)
    )
    paper.write_text(original + "\nA sentence about something else.\n")
    build(project, warm=warm)
    monkeypatch.setattr(build_module.RelatedPapers, "start", start)
    assert here() == [str(os.getpid())]  # computed here instead
    assert tree_digest(project.output) == clean_build(project, tmp_path, "clean-after")
    marks.unlink()
    assert state.stat().st_mtime_ns != saved
    assert warm.related.pid == 0  # not used again: a forked child computes them, as in a new process
    paper.write_text(original)
    build(project, warm=warm)
    assert len(here()) == 1 and here() != [str(os.getpid())]
    assert tree_digest(project.output) == clean_build(project, tmp_path, "clean-last")


def test_value_digest_tells_values_apart_and_ignores_how_equal_ones_were_made():
    """Keys of inputs gathered in different processes: equal values, equal digests (whether a
    string is interned or shared), and values repr tells apart stay apart."""
    from generator.cache import value_digest

    word = "".join(["fine", "-tuning"])  # made at run time: not interned
    shared = ("fine-tuning", 3)
    assert value_digest([(word, 3), (word, 3)]) == value_digest([(sys.intern(word), 3), shared])
    distinct = [("a", "b"), ("ab",), ["a", "b"], 1, True, 1.0, None, "None", "1", ((),), ()]
    assert len({value_digest(v) for v in distinct}) == len(distinct)
    when = datetime.date(2024, 5, 1)  # not marshal's: its repr
    assert (
        value_digest(when)
        == value_digest(datetime.date(2024, 5, 1))
        != value_digest(datetime.date(2024, 5, 2))
    )


def test_value_bytes_tell_scores_and_reasons_apart():
    """A paper page's key reads its related papers as value_bytes: any change of a score or a
    reason must change the bytes, and a value marshal does not take falls back to its repr."""
    from generator.cache import value_bytes

    related = [("k1", 0.6904, ("task-fine", "AnyTaskTune")), ("k2", 0.5, ("rag",))]
    variants = [
        related,
        [("k1", 0.6905, ("task-fine", "AnyTaskTune")), ("k2", 0.5, ("rag",))],
        [("k1", 0.6904, ("task-fine", "anytasktune")), ("k2", 0.5, ("rag",))],
        [("k1", 0.6904, ("task-fine", "AnyTaskTune"))],
        [("k2", 0.5, ("rag",)), ("k1", 0.6904, ("task-fine", "AnyTaskTune"))],
        [("k1", -0.0, ()), ("k2", 0.0, ())],
        [("k1", 0.0, ()), ("k2", 0.0, ())],
    ]
    assert len({value_bytes(v) for v in variants}) == len(variants)
    assert value_bytes(related) == value_bytes([tuple(x) for x in related])
    when = datetime.date(2024, 5, 1)
    assert value_bytes(when) == b"repr:" + repr(when).encode()


def test_papers_unpickle_to_equal_frozen_papers(tmp_path):
    """Paper's own __setstate__ (see model._quick_unpickling) restores every field, the one
    set after __init__ too, and the result stays frozen."""
    import dataclasses
    import pickle

    from generator.model import Paper

    paper = Paper(
        "s", "T", ("A", "B"), datetime.date(2024, 1, 2), ("t",), ("x", "y"), "md", "p.md",
        date="2023-05", arxiv="2305.00001", doi="10.1/x", url="https://e.org", pdf="https://e.org/p.pdf",
        code="https://c.org", source="src", same_as="other", body_html="<p>h</p>", body_text="h",
        body_terms="\nh", digest="d", identity="i", positions='[["title",2,8]]',
    )  # fmt: skip
    back = pickle.loads(pickle.dumps(paper, protocol=pickle.HIGHEST_PROTOCOL))
    for field in dataclasses.fields(Paper):
        assert getattr(back, field.name) == getattr(paper, field.name), field.name
    assert back.year == 2023
    with pytest.raises(dataclasses.FrozenInstanceError):
        back.title = "other"


def test_bibtex_entries_are_kept_by_source_digest_and_citation_key(tmp_path, monkeypatch):
    from generator import cite

    from .test_cite import make_paper

    made = []
    real = cite.bibtex_entry
    monkeypatch.setattr(cite, "bibtex_entry", lambda paper, key: made.append(paper.slug) or real(paper, key))

    def entries(papers, keys):
        cache = Cache(tmp_path / ".cache", "v")
        found = build_module._bibtex_entries(papers, keys, cache)
        cache.save()
        return found

    a, b = make_paper("a", digest="a1"), make_paper("b", title="Bees", digest="b1")
    first = entries([a, b], {"a": "lovelace2024a", "b": "lovelace2024b"})
    assert made == ["a", "b"] and "lovelace2024b" in first["b"] and "Bees" in first["b"]
    made.clear()
    assert entries([a, b], {"a": "lovelace2024a", "b": "lovelace2024b"}) == first and made == []
    edited = make_paper("b", title="Wasps", digest="b2")  # its file changed
    again = entries([a, edited], {"a": "lovelace2024a", "b": "lovelace2024b"})
    assert made == ["b"] and "Wasps" in again["b"] and again["a"] == first["a"]
    made.clear()
    moved = entries([a, edited], {"a": "lovelace2024b", "b": "lovelace2024a"})  # keys passed on
    assert made == ["a", "b"] and moved["a"].startswith("@") and "{lovelace2024b," in moved["a"]
    made.clear()
    unfiled = make_paper("c")  # not read from a file: no digest to keep it by
    entries([unfiled], {"c": "lovelace2024"})
    entries([unfiled], {"c": "lovelace2024"})
    assert made == ["c", "c"]


def test_an_entry_taken_once_lets_its_bytes_go_but_stays_in_the_file(tmp_path):
    cache = Cache(tmp_path, "v")
    cache.put("document", "k", ("paper", []))
    cache.put("document", "other", ("unused", []))
    cache.save()
    again = Cache(tmp_path, "v")
    assert again.get("document", "k", tuple, once=True) == ("paper", [])
    assert again.stored[("document", "k")] is None  # the bytes are gone from memory
    assert again.has("document", "k") and again.get("document", "k") is None  # asked twice: not at hand
    again.save()  # nothing new; the unused entry goes, the taken one stays
    later = Cache(tmp_path, "v")
    assert later.get("document", "k", tuple) == ("paper", []) and later.get("document", "other") is None


def test_an_edit_sends_the_related_papers_child_only_what_changed_and_a_state_lacking_papers_is_mended(
    make_project, tmp_path, monkeypatch
):
    """After an edit, the child computing related papers gets every paper's digest and the
    edited paper's text, before the build unpickles the rest (related_job.Partial). If the
    last state did not count a paper from a file with that digest, the child says so and
    the build computes them itself from every text: the same site either way."""
    import pickle

    from generator import related_job

    project = make_project({**PAPERS, **MORE})
    build(project)
    seen = tmp_path / "seen.txt"
    real = related_job.compute

    def watched(texts, kept, parent=0):
        found, state = real(texts, kept, parent)
        early = isinstance(texts, related_job.Partial)
        with seen.open("a") as out:
            given = len(texts.texts) if early else len(texts)
            out.write(f"{'early' if early else 'all'} {given} {found == related_job.NEEDS_TEXTS}\n")
        return found, state

    monkeypatch.setattr(related_job, "compute", watched)
    papers_dir = project.content / "papers"

    def edit(slug: str, old: str, new: str) -> list[str]:
        path = papers_dir / f"{slug}.md"
        path.write_text(path.read_text().replace(old, new))
        build(project)
        calls = seen.read_text().splitlines()
        seen.unlink()
        assert tree_digest(project.output) == clean_build(project, tmp_path, f"clean-{slug}")
        every = len(list(papers_dir.glob("*.md")))
        assert seen.read_text().splitlines() == [f"all {every} False"]  # no cache: every text, at once
        seen.unlink()
        return calls

    assert edit("extra-1", "case 1", "case one, with zyxomatic adapters") == ["early 1 False"]
    state_file = project.root / ".cache" / "related-state.pickle"
    version, (state, digests) = pickle.loads(state_file.read_bytes())
    assert set(digests) == {p.stem for p in papers_dir.glob("*.md")}
    del digests["extra-2"]  # as if the state had not counted that paper's file
    state_file.write_bytes(pickle.dumps((version, (state, digests))))
    every = len(list(papers_dir.glob("*.md")))
    assert edit("extra-3", "case 3", "case three, quorbling") == ["early 1 True", f"all {every} False"]
    assert edit("extra-0", "case 0", "case zero, quorbling again") == ["early 1 False"]  # mended


def test_a_file_changed_while_its_damaged_entry_is_made_again_gets_related_papers_from_its_new_text(
    make_project, tmp_path, settled, monkeypatch
):
    """The related papers' child is sent every paper's digest before damaged cache entries are
    found; a file read again then, changed since, makes the build compute them itself."""
    project = make_project({**PAPERS, **MORE})
    build(project)
    papers_dir = project.content / "papers"
    edited = papers_dir / "extra-1.md"
    edited.write_text(edited.read_text().replace("case 1", "case one"))
    damage_entries(project, "stage = 'document'")
    real = papers.read_again

    def changing(doc):  # the file is edited as the build reads it again
        if doc.stem == "extra-2":
            path = papers_dir / "extra-2.md"
            path.write_text(
                path.read_text().replace("case 2", "instruction tuning on many tasks helps a key metric")
            )
        return real(doc)

    monkeypatch.setattr(papers, "read_again", changing)
    build(project)
    monkeypatch.undo()
    assert "many tasks" in (project.output / "papers" / "extra-2" / "index.html").read_text()
    assert tree_digest(project.output) == clean_build(project, tmp_path, "clean")


def test_a_cache_restored_from_before_the_related_state_gives_the_clean_builds_related_papers(
    make_project, tmp_path
):
    """The cache's papers and the related papers' state from different builds (a cache
    restored from an older build beside a newer state): papers the state counted from other
    files are not stood for by its rows."""
    project = make_project({**PAPERS, **MORE})
    build(project)
    database = project.root / ".cache" / "papercat.sqlite"
    older = database.read_bytes()
    papers_dir = project.content / "papers"
    paper = papers_dir / "extra-2.md"
    original = paper.read_text()
    paper.write_text(original.replace("case 2", "instruction tuning on many tasks helps a key metric"))
    build(project)  # the state now counts the edited file
    paper.write_text(original)  # back as the older cache has it
    database.write_bytes(older)
    other = papers_dir / "extra-1.md"
    other.write_text(other.read_text().replace("case 1", "case one"))  # read anew: sent early
    build(project)
    assert tree_digest(project.output) == clean_build(project, tmp_path, "clean")
