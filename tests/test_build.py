"""Building inline mini-catalogues end to end into tmp_path."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.build import Project, build, load_catalogue
from generator.errors import BuildFailed, UsageError
from generator.lunr_js import load_index
from generator.markup import sanitise
from generator.search import lunr_indexes

from .conftest import REPO, paper_text, write_tree

PAPERS = {
    "lora-paper": paper_text(
        "LoRA: Low-Rank Adaptation of Large Language Models",
        topics='["parameter-efficient-fine-tuning", "fine-tuning"]',
        tags='["lora", "low-rank"]',
        added='"2024-06-01"',
        extra='date: "2021-06"\narxiv: "2106.09685"',
        body="We propose **LoRA**, which freezes weights. See <https://github.com/microsoft/LoRA>.",
    ),
    "flan-paper": paper_text(
        "Scaling Instruction-Finetuned Language Models",
        topics='["instruction-tuning"]',
        tags='["flan", "scaling"]',
        added='"2024-05-01"',
        body="Instruction tuning on many tasks helps a key metric.",
    ),
    "old-paper": paper_text(
        "An Older Study of Fine-tuning",
        tags='["lora"]',
        added='"2023-01-01"',
        body="Fine-tuning, studied (e.g. carefully).",
    ),
}


def event_handlers(html: str) -> list[str]:
    """Names of on* attributes on any element, as a browser's parser sees them."""
    found: list[str] = []

    class Finder(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.extend(name for name, _ in attrs if name.startswith("on"))

    Finder().feed(html)
    return found


def tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def clean_build(project: Project, tmp_path, name: str = "clean") -> dict[str, str]:
    """tree_digest of a build from scratch (no cache, no previous site) of the same content."""
    clean = Project(project.root, project.content, project.templates, tmp_path / name)
    build(clean, use_cache=False)
    return tree_digest(clean.output)


def with_spare_tree(project: Project) -> tuple[Path, str]:
    """Build, edit old-paper.md, build again: a live site and a spare tree, each with its
    manifest. Returns the paper file and its original text."""
    paper = project.content / "papers" / "old-paper.md"
    original = paper.read_text()
    build(project)
    paper.write_text(original.replace("studied (e.g. carefully)", "studied with care"))
    build(project)
    return paper, original


@pytest.fixture(params=["listed when needed", "surveyed"])
def surveyed(request, monkeypatch):
    """Both ways a build learns what the old trees hold: walking them itself when it needs
    to, or a child's survey while it loads (build.SURVEY_FROM: large sites only)."""
    from generator import build as build_mod

    monkeypatch.setattr(build_mod, "SURVEY_FROM", 0 if request.param == "surveyed" else 1 << 62)
    return request.param == "surveyed"


@pytest.fixture
def built(make_project):
    project = make_project(PAPERS)
    result = build(project)
    return project, result


def read(project: Project, rel: str) -> str:
    return (project.output / rel).read_text(encoding="utf-8")


def test_pages_exist_for_papers_topics_tags_and_search(built):
    project, result = built
    expected = [
        "index.html",
        "papers/lora-paper/index.html",
        "papers/flan-paper/index.html",
        "papers/old-paper/index.html",
        "topics/index.html",
        "topics/fine-tuning/index.html",
        "topics/instruction-tuning/index.html",
        "tags/index.html",
        "tags/lora/index.html",
        "tags/flan/index.html",
        "search/index.html",
        "search/meta.json",
        "search/abstracts.json",
        "static/style.css",
        "static/search-ui.js",
        "static/search-worker.js",
        "static/search-core.js",
        "static/lunr-fold.js",
        "static/vendor/lunr-2.3.9.min.js",
    ]
    for rel in expected:
        assert (project.output / rel).is_file(), rel
    assert (result.papers, result.topics, result.tags) == (3, 3, 4)
    assert "3 papers" in result.summary() and "3 topics" in result.summary()


def test_home_lists_newest_added_first(built):
    project, _ = built
    html = read(project, "index.html")
    order = [html.index(t) for t in ("LoRA: Low-Rank", "Scaling Instruction", "An Older Study")]
    assert order == sorted(order)


def test_paper_page_shows_fields_links_and_rendered_abstract(built):
    project, _ = built
    html = read(project, "papers/lora-paper/index.html")
    assert "<h1>LoRA: Low-Rank Adaptation of Large Language Models</h1>" in html
    assert "Ada Lovelace, Alan Turing" in html
    assert "June 2021" in html and "1 June 2024" in html
    assert 'href="https://arxiv.org/abs/2106.09685"' in html
    assert "<strong>LoRA</strong>" in html
    assert 'href="https://github.com/microsoft/LoRA"' in html
    assert 'href="../../topics/parameter-efficient-fine-tuning/"' in html
    assert 'href="../../tags/lora/"' in html


def test_versions_linked_by_same_as_link_to_each_other_and_rebuilds_follow(make_project, tmp_path):
    """A paper's page lists the other versions of it: the one its same_as names, and those
    naming it. Adding, dropping or retitling a version re-renders the pages that show it."""
    project = make_project(
        {
            "preprint": paper_text("Adapters Preprint", extra='date: "2023"'),
            "published": paper_text("Adapters Published", extra='same_as: "preprint"'),
            "other": paper_text("Something Else"),
        }
    )
    build(project)
    link = '<dt>Other version</dt><dd><a href="../../papers/{0}/">{1}</a>{2}</dd>'
    assert link.format("published", "Adapters Published", "") in read(project, "papers/preprint/index.html")
    assert link.format("preprint", "Adapters Preprint", " (2023)") in read(
        project, "papers/published/index.html"
    )
    assert "Other version" not in read(project, "papers/other/index.html")
    retitled = project.content / "papers" / "published.md"
    retitled.write_text(paper_text("Adapters, Published", extra='same_as: "preprint"'))
    build(project)
    assert link.format("published", "Adapters, Published", "") in read(project, "papers/preprint/index.html")
    assert tree_digest(project.output) == clean_build(project, tmp_path, "first")
    (project.content / "papers" / "other.md").write_text(
        paper_text("Something Else", extra='same_as: "preprint"')
    )
    build(project)
    assert "<dt>Other versions</dt>" in read(project, "papers/preprint/index.html")
    retitled.write_text(paper_text("Adapters, Published"))  # no longer a version
    build(project)
    assert link.format("other", "Something Else", "") in read(project, "papers/preprint/index.html")
    assert "Other version" not in read(project, "papers/published/index.html")
    assert tree_digest(project.output) == clean_build(project, tmp_path, "second")


def test_topic_and_tag_pages_list_exactly_their_papers(built):
    project, _ = built
    lora = read(project, "tags/lora/index.html")
    assert "LoRA: Low-Rank" in lora and "An Older Study" in lora and "Scaling Instruction" not in lora
    ft = read(project, "topics/fine-tuning/index.html")
    assert "LoRA: Low-Rank" in ft and "An Older Study" in ft and "Scaling Instruction" not in ft
    topics = read(project, "topics/index.html")
    assert re.search(r"Fine-tuning</a> <span class=\"count\">2 papers", topics)
    tags = read(project, "tags/index.html")
    assert re.search(r"lora <span class=\"count\">2</span>", tags)


def test_every_internal_link_is_relative_and_resolves(built):
    project, _ = built
    for page in project.output.rglob("*.html"):
        if page.name == "404.html":
            continue  # served at any depth, so its links start at base_url's path (test_metadata)
        html = page.read_text(encoding="utf-8")
        for url in re.findall(r'(?:href|src|action)="([^"]*)"', html):
            if url.startswith(("https://", "http://", "mailto:", "#")):
                continue
            assert not url.startswith("/"), f"{page}: root-absolute link {url}"
            target = (page.parent / url).resolve()
            if url.endswith("/") or url == "":
                target = target / "index.html"
            assert target.is_file(), f"{page.relative_to(project.output)}: broken link {url}"


def test_canonical_links_use_base_url(built):
    project, _ = built
    html = read(project, "papers/lora-paper/index.html")
    assert '<link rel="canonical" href="https://example.org/cat/papers/lora-paper/">' in html


def test_base_url_override(make_project):
    project = make_project(PAPERS)
    build(project, base_url="https://me.github.io/repo")
    assert 'href="https://me.github.io/repo/tags/lora/"' in read(project, "tags/lora/index.html")


def test_search_index_answers_queries_after_load(built):
    project, _ = built
    meta = json.loads(read(project, "search/meta.json"))
    tier2 = json.loads(read(project, "search/abstracts.json"))
    catalogue, _ = load_catalogue(project)
    abstracts = {p.slug: p.body_md for p in catalogue.papers}
    raw = lunr_indexes(catalogue, abstracts)
    titles = load_index(json.loads(json.dumps(raw["search/meta.json"].serialised)))  # serialise, load, query
    bodies = load_index(json.loads(json.dumps(raw["search/abstracts.json"].serialised)))

    def slugs(index, query):
        return [meta["docs"][int(r["ref"], 36)][0] for r in index.search(query)]

    assert slugs(titles, "low-rank")[:1] == ["lora-paper"]
    assert slugs(bodies, "key") == ["flan-paper"]
    assert set(slugs(titles, "lovelace")) == set(PAPERS)
    lora = next(d for d in meta["docs"] if d[0] == "lora-paper")
    assert dict(zip(meta["fields"], lora, strict=True))["year"] == 2021
    assert len(tier2["text"]) == len(meta["docs"]) == 3
    assert "freezes weights" in tier2["text"][[d[0] for d in meta["docs"]].index("lora-paper")]
    assert "lovelac" in meta["index"]["terms"] and "kei" not in tier2["index"]["terms"]


def test_same_content_gives_byte_identical_site(make_project, tmp_path):
    project = make_project(PAPERS)
    build(project)
    first = tree_digest(project.output)
    build(project)
    assert tree_digest(project.output) == first


def test_hostile_fields_are_escaped_and_abstract_sanitised(make_project):
    project = make_project(
        {
            "evil": paper_text(
                "Title <script>alert(1)</script>",
                tags='["x"]',
                extra='source: "<img src=x onerror=alert(1)>"',
                body="[ok](https://example.org) `<b onclick=x()>code</b>`",
            )
        }
    )
    build(project)
    html = read(project, "papers/evil/index.html")
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in html and "data:text" not in html
    assert not event_handlers(html), "no event-handler attribute on any tag"
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">ok</a>' in html
    assert "<code>&lt;b onclick=x()&gt;code&lt;/b&gt;</code>" in html
    meta = json.loads(read(project, "search/meta.json"))
    assert meta["docs"][0][1] == "Title <script>alert(1)</script>"


def test_raw_html_in_an_abstract_is_rejected_where_it_stands(make_project):
    project = make_project({"evil": paper_text(body="Fine text.\n\nThen <img src=x onerror=alert(1)> here.")})
    with pytest.raises(BuildFailed) as caught:
        build(project)
    (error,) = caught.value.errors
    assert error.format().startswith("content/papers/evil.md:11:6: raw HTML is not allowed in an abstract")


def test_sanitiser_is_a_second_line_of_defence():
    html = sanitise(
        '<p onclick="x()">a<script>alert(1)</script><a href="JaVaScRiPt:alert(1)">l</a>'
        '<iframe src="https://x"></iframe><a href="https://ok.org">ok</a></p>'
    )
    assert "script" not in html.lower() and "onclick" not in html and "iframe" not in html
    assert '<a href="https://ok.org" rel="nofollow noopener noreferrer">ok</a>' in html


def test_failed_build_leaves_previous_site_untouched(make_project):
    project = make_project(PAPERS)
    build(project)
    before = tree_digest(project.output)
    write_tree(
        project.root,
        {
            "content/papers/broken.md": "---\ntitle: 1984\n---\n",
            "content/papers/also-broken.md": paper_text(topics='["nope"]'),
        },
    )
    with pytest.raises(BuildFailed) as caught:
        build(project)
    assert len(caught.value.errors) >= 4  # every problem of both files, in one run
    assert {e.path for e in caught.value.errors} == {
        "content/papers/broken.md",
        "content/papers/also-broken.md",
    }
    assert tree_digest(project.output) == before
    assert not list(project.root.glob("site.tmp-*"))


def test_builds_collect_no_cycles_and_restore_the_collector_however_they_end(make_project, monkeypatch):
    import gc

    import generator.build as build_module

    project = make_project(PAPERS)
    load, during = build_module.load_catalogue, []

    def watched(*args, **kwargs):
        during.append(gc.isenabled())
        return load(*args, **kwargs)

    monkeypatch.setattr(build_module, "load_catalogue", watched)
    before = gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()
    assert before[0]
    build(project)
    assert during == [False] and (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()) == before
    templates = project.root / "templates"  # with a paper page that fails late in the build
    shutil.copytree(project.templates, templates)
    (templates / "paper.html").write_text("{{ no_such_value }}")
    with pytest.raises(jinja2.TemplateError, match="no_such_value"):
        build(Project(project.root, project.content, templates, project.output))
    assert during == [False, False] and (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()) == before


def test_a_build_in_a_process_about_to_exit_leaves_its_objects_unfreed_and_others_free_them(
    make_project, monkeypatch
):
    import generator.build as build_module

    project = make_project(PAPERS)
    monkeypatch.setattr(build_module, "_LEFT_FOR_EXIT", [])
    build(project)  # serve, tests: everything the build made is freed as it returns
    assert build_module._LEFT_FOR_EXIT == []
    build(project, exiting=True)  # the command line: it exits at once
    (left,) = build_module._LEFT_FOR_EXIT
    assert sorted(p.slug for p in left["catalogue"].papers) == sorted(PAPERS)


def test_output_folder_may_not_replace_content_or_project(make_project):
    project = make_project(PAPERS)
    for bad in (project.root, project.content, project.root.parent):
        with pytest.raises(UsageError):
            build(Project(project.root, project.content, project.templates, bad))
    assert (project.content / "papers" / "lora-paper.md").is_file()


def test_an_unrelated_folder_is_never_replaced(make_project, tmp_path):
    project = make_project(PAPERS)
    precious = write_tree(tmp_path / "precious", {"important.txt": "keep me"})
    with pytest.raises(UsageError, match="was not built by papercat"):
        build(Project(project.root, project.content, project.templates, precious))
    assert (precious / "important.txt").read_text() == "keep me"
    empty = tmp_path / "empty"
    empty.mkdir()
    build(Project(project.root, project.content, project.templates, empty))
    build(Project(project.root, project.content, project.templates, empty))  # its own output: fine
    assert (empty / "index.html").is_file()


def test_bad_site_config_is_located(make_project):
    project = make_project(PAPERS, site='title: "x"\nbase_url: "example.org"\ncolour: red\n')
    with pytest.raises(BuildFailed) as caught:
        build(project)
    report = caught.value.report()
    assert "content/site.yml:2:11: base_url 'example.org' is not an absolute http(s) URL" in report
    assert "content/site.yml:3:1: unknown field 'colour'" in report


def test_a_killed_build_never_leaves_a_broken_site(make_project):
    """SIGKILL at random moments: site/ is always one complete build, old or new."""
    import os
    import random
    import signal
    import subprocess
    import sys
    import time

    project = make_project(PAPERS)
    shutil.copytree(REPO / "templates", project.root / "templates")
    variants = {"a": "Fine-tuning, studied (e.g. carefully).", "b": "A different abstract, longer " * 20}
    old = project.content / "papers" / "old-paper.md"
    digests = {}
    for name, body in variants.items():
        old.write_text(
            paper_text("An Older Study of Fine-tuning", tags='["lora"]', added='"2023-01-01"', body=body)
        )
        build(project)
        digests[name] = tree_digest(project.output)
    rng = random.Random(5)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for i in range(10):
        name = "ab"[i % 2]
        old.write_text(
            paper_text(
                "An Older Study of Fine-tuning", tags='["lora"]', added='"2023-01-01"', body=variants[name]
            )
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "generator", "--root", str(project.root), "build"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.05, 0.7))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert tree_digest(project.output) in digests.values(), f"kill {i}: site/ is a mix"
    build(project)
    assert no_leftovers(project.root)


def no_leftovers(root: Path, seconds: float = 10) -> bool:
    """No temporary or replaced sites beside site/, once background deletion has finished."""
    deadline = time.monotonic() + seconds
    while list(root.glob("site.tmp-*")) or list(root.glob("site.old-*")):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_nothing_is_lost_every_file_is_published_or_reported(make_project):
    good = {f"good-{i}": paper_text(f"Good Paper Number {i}", added=f'"2024-05-0{i + 1}"') for i in range(3)}
    bad = {"bad-one": paper_text("Bad One", topics='["nope"]'), "bad-two": "---\ntitle: 7\n---\n"}
    project = make_project({**good, **bad})
    with pytest.raises(BuildFailed) as caught:
        build(project)
    rejected = {e.path for e in caught.value.errors}
    assert rejected == {"content/papers/bad-one.md", "content/papers/bad-two.md"}
    assert caught.value.report().splitlines()[-1] == "2 of 5 paper files rejected, 3 valid"
    for name in bad:
        (project.content / "papers" / f"{name}.md").unlink()
    result = build(project)
    published = {p.parent.name for p in (project.output / "papers").glob("*/index.html")}
    assert published == set(good) and result.papers == 3


def test_symlinks_in_content_are_refused(make_project, tmp_path):
    project = make_project(PAPERS)
    secret = write_tree(tmp_path / "elsewhere", {"secret.md": paper_text("Secret")}) / "secret.md"
    (project.content / "papers" / "leak.md").symlink_to(secret)
    with pytest.raises(BuildFailed) as caught:
        build(project)
    (error,) = caught.value.errors
    assert error.path == "content/papers/leak.md" and "symbolic links are not allowed" in error.message


@pytest.mark.parametrize("path", ["../x.html", "/etc/passwd", "a/../../x", "a\\\\..\\\\x", ""])
def test_output_paths_never_leave_the_site_folder(path):
    from generator.write import safe_relative

    with pytest.raises(ValueError, match="outside the site folder"):
        safe_relative(path)


def _leaves_the_site(path: str) -> bool:
    """The rule safe_relative enforces, part by part."""
    parts = path.split("/")
    return path.startswith("/") or "\\" in path or ".." in parts or all(p in ("", ".") for p in parts)


@settings(max_examples=800, deadline=None)
@given(
    st.text(alphabet="./\\ab", max_size=12)
    | st.lists(st.sampled_from(["", ".", "..", "...", "a", ".a", "a."])).map("/".join)
)
def test_safe_relative_refuses_exactly_the_paths_that_leave_the_site(path):
    """safe_relative's quick test of the common path gives the answer of the full rule."""
    from generator.write import safe_relative

    if _leaves_the_site(path):
        with pytest.raises(ValueError, match="outside the site folder"):
            safe_relative(path)
    else:
        assert safe_relative(path) == path


def test_folders_promised_are_made_later_and_never_outside(tmp_path):
    """SiteWriter.promise_folders (before page workers fork) counts the pages' folders as
    made; make_promised_folders (beside the workers) makes them; a page written before its
    folder is made makes it itself. A path that leaves the site folder is refused."""
    from generator.write import SiteWriter

    site = tmp_path / "site"
    with SiteWriter(site) as writer:
        writer.promise_folders(["papers/a/index.html", "papers/b/index.html", "index.html"])
        assert not any(Path(writer.tmp).iterdir())  # promised, not made
        writer.put("papers/a/index.html", b"<p>a</p>")  # a worker ahead of this process
        writer.make_promised_folders()
        made = sorted(p.relative_to(writer.tmp).as_posix() for p in Path(writer.tmp).rglob("*"))
        assert made == ["papers", "papers/a", "papers/a/index.html", "papers/b"]
        with pytest.raises(ValueError, match="outside the site folder"):
            writer.promise_folders(["../escaped/index.html"])
        writer.make_promised_folders()
        assert not (tmp_path / "escaped").exists()
        writer.put("papers/b/index.html", b"<p>b</p>")
        writer.put("index.html", b"<p>home</p>")
        writer.finish(tmp_path / "no-static")
    assert (site / "papers" / "a" / "index.html").read_bytes() == b"<p>a</p>"
    assert (site / "papers" / "b" / "index.html").read_bytes() == b"<p>b</p>"


def test_long_listings_are_paginated_with_working_links(make_project):
    from generator.render import PAGE_SIZE

    count = PAGE_SIZE * 2 + 5
    papers = {
        f"paper-{i:03d}": paper_text(
            f"Paper Number {i:03d} on Lora",
            tags='["lora"]',
            added=f'"2024-{1 + i // 28:02d}-{1 + i % 28:02d}"',
        )
        for i in range(count)
    }
    project = make_project(papers)
    build(project)
    site = project.output
    pages = [site / "index.html", site / "page/2/index.html", site / "page/3/index.html"]
    listed = [re.findall(r'href="(?:\.\./)*papers/(paper-\d+)/"', p.read_text()) for p in pages]
    assert [len(set(x)) for x in listed] == [PAGE_SIZE, PAGE_SIZE, 5]
    assert sorted(set().union(*map(set, listed))) == sorted(papers)  # every paper on exactly one page
    assert listed[0][0] == "paper-204"  # newest added first
    second = pages[1].read_text()
    assert 'href="../../" rel="prev"' in second and 'href="../../page/3/" rel="next"' in second
    assert f"Papers {PAGE_SIZE + 1}–{2 * PAGE_SIZE} of {count}" in second
    assert (site / "tags/lora/page/3/index.html").is_file()
    assert not (site / "page/4").exists()


def test_rebuilds_write_only_what_changed_and_equal_a_clean_build(make_project, tmp_path, surveyed):
    project = make_project(PAPERS)
    first = build(project)
    assert first.files_unchanged == 0
    before = tree_digest(project.output)
    inode = (project.output / "index.html").stat().st_ino
    again = build(project)
    assert (again.files_written, again.files_unchanged) == (0, len(before) - 2)  # marker and manifest aside
    assert tree_digest(project.output) == before
    assert (project.output / "index.html").stat().st_ino == inode  # nothing was swapped in
    paper = project.content / "papers" / "old-paper.md"
    paper.write_text(paper.read_text().replace("studied (e.g. carefully)", "studied with care"))
    edited = build(project)
    assert 0 < edited.files_written < edited.files_unchanged and edited.files_removed == 0
    assert "removed" not in edited.summary()
    assert no_leftovers(project.root)  # the replaced site is deleted (in the background)
    clean = Project(project.root, project.content, project.templates, tmp_path / "clean")
    build(clean)
    assert tree_digest(project.output) == tree_digest(clean.output)
    had = set(tree_digest(project.output))
    paper.unlink()  # its page and .bib go, and any tag page of its alone
    fewer = build(project)
    gone = had - set(tree_digest(project.output))
    assert {"papers/old-paper/index.html", "papers/old-paper.bib"} <= gone
    assert fewer.files_removed == len(gone) and f", {len(gone)} removed" in fewer.summary()


def test_a_rebuild_says_how_many_pages_it_rendered_all_of_them_too(make_project, tmp_path):
    shared = make_project(PAPERS)  # with the repository's templates: a copy of them, to change
    shutil.copytree(shared.templates, tmp_path / "templates")
    project = Project(shared.root, shared.content, tmp_path / "templates", shared.output)
    assert "rendered" not in build(project).summary()  # the first build renders every page
    paper = project.content / "papers" / "old-paper.md"
    paper.write_text(paper.read_text() + "\nOne more sentence.\n")
    some = build(project)
    assert (
        f"({some.rendered} rendered, the rest unchanged)" in some.summary() and 0 < some.rendered < some.pages
    )
    base = project.templates / "base.html"
    base.write_text(base.read_text().replace("</footer>", "<p>Curated by us.</p></footer>"))
    every = build(project)  # every page's template changed: every page is rendered again
    assert every.rendered == every.pages and every.files_unchanged
    assert f"{every.pages} pages in" in every.summary() and "(all rendered)" in every.summary()


def folders(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir()}


def test_the_swapped_out_tree_is_reused_without_touching_the_live_site(make_project, tmp_path, surveyed):
    project = make_project(PAPERS)
    spare = project.root / ".site.spare"
    paper = project.content / "papers" / "old-paper.md"
    page = "papers/old-paper/index.html"
    original = paper.read_text()
    build(project)
    assert not spare.exists()
    paper.write_text(original.replace("studied (e.g. carefully)", "studied with care"))
    build(project)
    assert (spare / page).read_text() != (project.output / page).read_text()  # the first build's tree
    linked = (project.output / "index.html").stat().st_ino
    assert (spare / "index.html").stat().st_ino == linked  # unchanged files are shared
    # A third build reuses the spare tree: it must never write into a file shared with the live site.
    write_tree(spare, {"junk.txt": "stray", "papers/ghost/index.html": "stray"})
    before = tree_digest(project.output)
    paper.write_text(original.replace("studied (e.g. carefully)", "studied at length"))
    site_yml = project.content / "site.yml"
    site_yml.write_text(site_yml.read_text().replace("Test Catalogue", "Renamed Catalogue"))  # every page
    build(project)
    assert tree_digest(spare) == before  # the second build's tree, intact
    clean = Project(project.root, project.content, project.templates, tmp_path / "clean")
    build(clean, use_cache=False)
    assert tree_digest(project.output) == tree_digest(clean.output)
    assert folders(project.output) == folders(clean.output)  # no stray or empty folders
    assert no_leftovers(project.root)


def test_a_process_that_builds_again_parses_neither_the_sites_manifest_nor_the_spares(
    make_project, tmp_path, monkeypatch
):
    from generator import write
    from generator.build import Warm

    project = make_project(PAPERS)
    paper, original = with_spare_tree(project)
    monkeypatch.setattr(write, "_manifests", {})  # as in a new process
    parsed = []
    real = write._parse_manifest
    monkeypatch.setattr(write, "_parse_manifest", lambda raw: parsed.append(raw) or real(raw))
    warm = Warm()
    for words in ("studied at length", "studied briefly", "studied again"):
        paper.write_text(original.replace("studied (e.g. carefully)", words))
        assert build(project, warm=warm).files_written > 0
        assert len(parsed) == 2  # the first build reads both; later ones know them
    assert tree_digest(project.output) == clean_build(project, tmp_path)


def test_a_spare_tree_without_a_manifest_is_not_trusted(make_project, tmp_path, surveyed):
    project = make_project(PAPERS)
    paper = project.content / "papers" / "old-paper.md"
    build(project)
    paper.write_text(paper.read_text().replace("studied (e.g. carefully)", "studied with care"))
    build(project)
    spare = project.root / ".site.spare"
    (spare / ".papercat-manifest.json").write_text("{")
    (spare / "index.html").unlink()
    (spare / "index.html").write_text("stale")
    paper.write_text(paper.read_text().replace("studied with care", "studied at length"))
    replaced = tree_digest(project.output)
    build(project)
    clean = Project(project.root, project.content, project.templates, tmp_path / "clean")
    build(clean, use_cache=False)
    assert tree_digest(project.output) == tree_digest(clean.output)
    assert no_leftovers(project.root)  # the untrusted tree is deleted (in the background)...
    assert tree_digest(spare) == replaced  # ...and not the tree this build swapped out in its place


def test_no_cache_rewrites_files_changed_by_hand_and_a_no_change_build_drops_strays(
    make_project, tmp_path, surveyed
):
    project = make_project(PAPERS)
    build(project)
    clean = Project(project.root, project.content, project.templates, tmp_path / "clean")
    build(clean, use_cache=False)
    robots = project.output / "robots.txt"
    robots.write_text(robots.read_text().replace("User-agent", "User-AGENT"))  # same size
    build(project, use_cache=False)
    assert tree_digest(project.output) == tree_digest(clean.output)
    write_tree(project.output, {"junk.html": "stray", "extra/page.html": "stray"})
    result = build(project)  # nothing changed in the content
    assert result.rendered == 0
    assert tree_digest(project.output) == tree_digest(clean.output)
    assert folders(project.output) == folders(clean.output)


def test_a_surveyed_build_never_looks_at_the_old_trees_itself(make_project, tmp_path, surveyed, monkeypatch):
    from generator import write

    project = make_project(PAPERS)
    paper, original = with_spare_tree(project)  # both surveyed from now on
    looked, walk, stat = [], write.list_tree, write._same_size
    monkeypatch.setattr(write, "list_tree", lambda *a, **k: looked.append(a) or walk(*a, **k))
    monkeypatch.setattr(write, "_same_size", lambda path, size: looked.append(path) or stat(path, size))
    write_tree(project.output, {"junk.html": "stray"})
    build(project)  # no change but a stray
    paper.write_text(original.replace("studied (e.g. carefully)", "studied at length"))
    build(project)  # an edit: the spare tree is tidied, unchanged files kept or linked
    assert bool(looked) != surveyed, looked  # walked here only without a survey
    assert tree_digest(project.output) == clean_build(project, tmp_path)


def test_an_output_folder_that_is_a_link_or_inside_the_sources_is_refused(make_project, tmp_path):
    project = make_project(PAPERS)
    real = tmp_path / "real"
    real.mkdir()
    link = project.root / "site"
    link.symlink_to(real)
    with pytest.raises(UsageError, match="symbolic link"):
        build(project)
    assert link.is_symlink() and not any(real.iterdir())
    for inside in (project.content / "site", project.templates / "site"):
        with pytest.raises(UsageError, match="inside"):
            build(Project(project.root, project.content, project.templates, inside))


def test_builds_at_the_same_time_wait_for_each_other(make_project, tmp_path):
    import os
    import subprocess
    import sys

    project = make_project(PAPERS)
    shutil.copytree(REPO / "templates", project.root / "templates")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "generator", "--root", str(project.root), "build"]
    for round_ in range(2):  # builds from nothing, then from the last build
        paper = project.content / "papers" / "old-paper.md"
        paper.write_text(paper.read_text().replace("Fine-tuning", f"Fine-tuning {round_}", 1))
        runs = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(3)
        ]
        for run in runs:
            _, err = run.communicate(timeout=120)
            assert run.returncode == 0, err.decode()
    clean = Project(project.root, project.content, project.templates, tmp_path / "clean")
    build(clean, use_cache=False)
    assert tree_digest(project.output) == tree_digest(clean.output)
    assert no_leftovers(project.root)


@pytest.mark.parametrize(
    "edited, old, new",
    [
        ("papers/old-paper.md", "studied with care", "studied at length"),  # one page changes
        ("site.yml", "Test Catalogue", "Renamed Catalogue"),  # every page changes
    ],
)
def test_files_of_the_spare_tree_changed_by_hand_are_replaced(
    make_project, tmp_path, edited, old, new, surveyed
):
    project = make_project(PAPERS)
    with_spare_tree(project)
    spare = project.root / ".site.spare"
    (spare / "robots.txt").unlink()  # shared with the live site: replaced, not edited in place
    (spare / "robots.txt").write_text("User-agent: *\nDisallow: /\n")
    (spare / "papers.schema.json").unlink()
    (spare / "papers.schema.json").symlink_to(project.output / "papers.schema.json")  # same size
    edited = project.content / edited
    edited.write_text(edited.read_text().replace(old, new))
    build(project)
    assert tree_digest(project.output) == clean_build(project, tmp_path)
    assert not (project.output / "papers.schema.json").is_symlink()


def test_a_folder_deleted_from_the_site_by_hand_is_made_again_by_every_later_build(
    make_project, tmp_path, surveyed
):
    project = make_project(PAPERS)
    paper, original = with_spare_tree(project)
    for tag in ("lora", "flan"):
        shutil.rmtree(project.output / "tags" / tag)  # a page and a feed, gone by hand
    build(project)  # no change in the content: the folders are made again...
    assert (project.output / "tags" / "lora" / "index.html").is_file()
    paper.write_text(original.replace("An Older Study", "A Newer Study"))  # on tags/lora/, not tags/flan/
    build(project)  # ...and this build's folder is the tree that lacks them: written, and linked
    assert tree_digest(project.output) == clean_build(project, tmp_path)


def test_a_spare_folder_that_papercat_did_not_make_is_left_alone(make_project, surveyed):
    project = make_project(PAPERS)
    mine = write_tree(project.root / ".site.spare", {"notes.txt": "mine"})
    build(project)
    paper = project.content / "papers" / "old-paper.md"
    paper.write_text(paper.read_text().replace("studied (e.g. carefully)", "studied with care"))
    build(project)
    assert (mine / "notes.txt").read_text() == "mine"


def test_site_files_and_folders_are_made_as_open_and_makedirs_make_them(tmp_path):
    """The writer's own os calls: a folder with its missing parents, one already there (made
    by a worker meanwhile), a file in a folder's place refused; a file written whole, and
    replaced whole by shorter bytes, with open()'s permissions."""
    from generator import write

    write._ensure_folder(str(tmp_path / "a" / "b"))
    write._ensure_folder(str(tmp_path / "a" / "b"))
    assert (tmp_path / "a" / "b").is_dir()
    (tmp_path / "a" / "f").write_text("x")
    with pytest.raises(FileExistsError):
        write._ensure_folder(str(tmp_path / "a" / "f"))
    target, data = tmp_path / "a" / "b" / "page.html", os.urandom(3_000_000)
    write._write_file(str(target), data)
    assert target.read_bytes() == data
    write._write_file(str(target), b"short")
    assert target.read_bytes() == b"short"
    with open(tmp_path / "by-open", "wb"):
        pass
    assert target.stat().st_mode == (tmp_path / "by-open").stat().st_mode


def test_paper_files_are_read_whole_with_os_calls(tmp_path):
    from generator import load

    for size in (0, 1, load.READ_SIZE, 2 * load.READ_SIZE + 7):
        data = os.urandom(size)
        (tmp_path / "p.md").write_bytes(data)
        assert load.read_bytes(str(tmp_path / "p.md")) == data
    with pytest.raises(FileNotFoundError):
        load.read_bytes(str(tmp_path / "missing.md"))


def test_forked_children_do_not_keep_the_build_lock(tmp_path):
    import os

    from generator import write

    fd = write._lock(tmp_path)
    try:
        pid = os.fork()
        if pid == 0:  # a child that outlived its build must not hold the lock
            os._exit(0 if not write._held else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert fd in write._held
    finally:
        write._unlock(fd)
    assert not write._held


def test_a_build_waits_for_another_to_finish_and_says_so(make_project, caplog):
    import threading

    from generator import write

    project = make_project(PAPERS)
    held = write._lock(project.root)  # as another build does while it runs
    built = []
    later = threading.Thread(target=lambda: built.append(build(project)))
    with caplog.at_level("WARNING", logger="generator"):
        later.start()
        deadline = time.monotonic() + 30
        while "waiting for another build" not in caplog.text:
            assert time.monotonic() < deadline and later.is_alive(), caplog.text
            time.sleep(0.01)
        time.sleep(0.2)
        assert not built and not project.output.exists()  # waited, wrote nothing
        write._unlock(held)
        later.join(30)
    assert built and built[0].papers == len(PAPERS)
    assert str(project.root) in caplog.text
    assert (project.output / "index.html").is_file()


def test_an_output_folder_inside_another_build_or_under_a_reserved_name_is_refused(make_project, tmp_path):
    project = make_project(PAPERS)
    build(project)
    for bad in (project.output / "sub", project.root / ".site.spare", project.root / "site.tmp-x"):
        with pytest.raises(UsageError, match="refusing"):
            build(Project(project.root, project.content, project.templates, bad))
    assert not (project.output / "sub").exists()


def test_an_empty_catalogue_still_has_the_bibliography_its_pages_link_to(make_project):
    project = make_project({})
    (project.content / "papers").mkdir(exist_ok=True)
    result = build(project)
    assert result.papers == 0
    assert (project.output / "papers.bib").read_text() == ""
    assert 'href="papers.bib"' in (project.output / "index.html").read_text()


def test_failure_counts_name_only_paper_files_that_were_checked(make_project):
    project = make_project(PAPERS, topics="- slug: [broken\n")
    with pytest.raises(BuildFailed) as caught:
        build(project)
    report = caught.value.report()
    assert "rejected" not in report  # papers were not checked: topics.yml first
    assert report.splitlines()[-1] == "no paper file was checked: fix the errors above first"
    project = make_project(PAPERS)
    shutil.rmtree(project.content / "papers")
    with pytest.raises(BuildFailed) as caught:
        build(project)
    assert "papers folder is missing" in caught.value.report() and "rejected" not in caught.value.report()


@pytest.mark.parametrize(
    "name",
    [
        ".a-paper.md.swp",
        ".a-paper.md.swx",
        "a-paper.md~",
        ".#a-paper.md",
        "#a-paper.md#",
        ".DS_Store",
        "flycheck_a-paper.md",
    ],
)
def test_files_editors_leave_beside_a_paper_are_ignored(make_project, name):
    """Saving in vim or emacs leaves swap, backup, lock and autosave files: serve's watcher
    ignores them, so the build must too (or a save would fail until the editor closes)."""
    project = make_project({"a-paper": paper_text("A Paper")})
    where = project.content / "papers" / name
    if name.startswith(".#"):  # emacs's lock: a dangling link
        os.symlink("user@host.1234:1700000000", where)
    else:
        where.write_text("---\nnot: a paper\n")
    result = build(project)
    assert result.papers == 1
    (project.content / "papers" / "notes.txt").write_text("x")  # anything else is still refused
    with pytest.raises(BuildFailed) as caught:
        build(project)
    assert caught.value.report().splitlines()[-1] == (
        "0 of 1 paper file rejected, 1 valid; 1 other file with errors"
    )


def test_template_fields_are_items_first_on_pages_dicts_and_views_and_attributes_elsewhere(tmp_path):
    from generator import render
    from generator.model import Topic

    (tmp_path / "t.html").write_text(
        "{{ d.title }}|{{ d.items }}|{{ v.title }}|{{ v.key[:4] }}|{{ t.name }}|{{ s.upper() }}|"
        "{% for k, x in e.items() %}{{ k }}={{ x }}{% endfor %}",
        encoding="utf-8",
    )
    env = render.make_environment(tmp_path)
    view = render.View({"title": "From a view"}, key="kkkk-view")
    context = {
        "d": {"title": "From a dict", "items": "an item"},  # an item wins over a dict method's name
        "v": view,
        "t": Topic("peft", "PEFT", ""),  # not a dict: its attribute
        "s": "str",
        "e": {"a": 1},  # no such key: the method
    }
    got = env.get_template("t.html").render(context)
    assert got == "From a dict|an item|From a view|kkkk|PEFT|STR|a=1"
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ d.missing }}").render(d={"title": "x"})


def test_templates_that_list_papers_one_by_one_give_the_same_pages(make_project, tmp_path):
    """listed_papers (one call for a list) gives what a loop over listed_paper gives: a
    template written for either builds the same site."""
    project = make_project(PAPERS)
    build(project)
    ours = tree_digest(project.output)
    templates = tmp_path / "forked-templates"
    shutil.copytree(project.templates, templates)
    macros = templates / "_macros.html"
    text = macros.read_text()
    loop = "{% for p in papers %}\n{{ listed_paper(p, root, show_added, level) -}}\n{% endfor %}\n</ol>"
    assert "{{ listed_papers(papers, root, show_added, level) }}</ol>" in text
    macros.write_text(text.replace("{{ listed_papers(papers, root, show_added, level) }}</ol>", loop))
    forked = Project(project.root, project.content, templates, tmp_path / "forked-site")
    build(forked)
    pages = tree_digest(forked.output)
    del pages[".papercat-manifest.json"], ours[".papercat-manifest.json"]  # keys: other templates
    assert pages == ours
    assert any('class="paper-item"' in p.read_text() for p in forked.output.rglob("index.html"))


def test_listed_paper_remembers_only_the_build_s_papers_with_a_plain_prefix(make_project, tmp_path):
    """A forked template may pass listed_paper a dict of its own (the same slug, other text on
    each page) or a prefix marked safe: those are rendered each time, as paper_item would
    render them, never taken for an entry rendered before. Its options have defaults."""
    project = make_project(PAPERS)
    templates = tmp_path / "forked-templates"
    shutil.copytree(project.templates, templates)
    term = templates / "term.html"
    extra = (
        "{% block main %}{% for p in papers %}"
        '{{ listed_paper({"slug": p.slug, "title": p.title ~ " [" ~ term.name ~ "]", "url": p.url,'
        ' "authors": [], "year": none, "topics": [], "tags": []}, root, false, 4) }}'
        "{% set safe_root %}{{ root }}x&y/{% endset %}"
        "{{ listed_paper(p, safe_root, false, 5) }}{{ listed_paper(p, root ~ 'x&y/', false, 5) }}"
        "{{ listed_paper(p, root) }}"
        "{% endfor %}{{ super() }}"
    )
    term.write_text(term.read_text().replace("{% block main %}", extra, 1))
    build(Project(project.root, project.content, templates, project.output))
    lora = (project.output / "tags" / "lora" / "index.html").read_text()
    tuning = (project.output / "topics" / "fine-tuning" / "index.html").read_text()
    assert "LoRA: Low-Rank Adaptation of Large Language Models [lora]" in lora
    assert "LoRA: Low-Rank Adaptation of Large Language Models [Fine-tuning]" in tuning
    assert "[Fine-tuning]" not in lora and "[lora]" not in tuning
    assert 'href="../../x&y/papers/' in lora  # the root marked safe: as written
    assert 'href="../../x&amp;y/papers/' in lora  # the plain one: escaped
    assert '<h3 class="paper-title">' in lora and "added <time" in lora  # the defaults
