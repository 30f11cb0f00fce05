"""Attacks found by a red-team pass over contributed files, each now refused or harmless."""

from __future__ import annotations

import os

import pytest

from generator.build import load_catalogue
from generator.errors import BuildFailed, ContentError
from generator.importer import write_new
from generator.scaffold import new_paper
from generator.sources import import_file
from generator.validate import mask_code_spans

from .conftest import paper_text, write_tree

ABSTRACT = "An abstract long enough to be a real one, about adapters and fine-tuning. " * 4


def errors_of(project) -> list[ContentError]:
    with pytest.raises(BuildFailed) as caught:
        load_catalogue(project)
    return caught.value.errors


def test_hidden_files_in_papers_are_errors_and_never_written_through(make_project, tmp_path):
    project = make_project({"good": paper_text("Good Paper")})
    victim = tmp_path / "victim.txt"
    victim.write_text("ORIGINAL")
    os.symlink(victim, project.content / "papers" / ".zebra-paper-alpha.md.tmp")
    assert [e.message for e in errors_of(project)] == ["hidden file in content/papers/"]
    new_paper(project.root, title="Zebra Paper Alpha", abstract=ABSTRACT, topics=["fine-tuning"])
    assert victim.read_text() == "ORIGINAL"
    written = project.content / "papers" / "zebra-paper-alpha.md"
    assert written.is_file() and not written.is_symlink()


def test_a_dangling_link_in_listings_is_refused(make_project, tmp_path):
    project = make_project({})
    outside = tmp_path / "outside" / "listing.txt"
    write_tree(project.root, {"incoming/evil.txt": f"Mar 18\n\nA Paper Title\n\n{ABSTRACT}\n"})
    (project.content / "listings").mkdir()
    os.symlink(outside, project.content / "listings" / "evil.txt")
    with pytest.raises(Exception, match="not a regular file"):
        import_file(project.root, project.root / "incoming" / "evil.txt", added="2024-01-01")
    assert not outside.exists()


def test_symlinks_anywhere_in_content_are_reported(make_project, tmp_path):
    project = make_project({"good": paper_text("Good Paper")})
    (project.content / "listings").mkdir()
    os.symlink(tmp_path, project.content / "listings" / "elsewhere")
    assert [(e.path, e.message) for e in errors_of(project)] == [
        ("content/listings/elsewhere", "symbolic links are not allowed in content/")
    ]


def test_a_file_over_the_size_limit_is_refused_unread(make_project, monkeypatch):
    """Only limit + 1 bytes are read of a paper file over MAX_FILE_BYTES, which is reported."""
    from generator import load

    project = make_project({"good": paper_text("Good Paper")})
    big = project.content / "papers" / "big.md"
    big.write_bytes(b"x" * (load.MAX_FILE_BYTES * 3))
    got = []
    real = load.os.read

    def read(fd, n):
        got.append(len(data := real(fd, n)))
        return data

    monkeypatch.setattr(load.os, "read", read)
    assert [(e.path, e.message) for e in errors_of(project)] == [
        ("content/papers/big.md", "file is over 1,000,000 bytes, the limit for a paper file")
    ]
    assert sum(got) < load.MAX_FILE_BYTES + load.READ_SIZE + 10_000  # not the whole 3 MB


def test_write_new_never_follows_or_replaces_a_link(tmp_path):
    victim = tmp_path / "victim.txt"
    os.symlink(victim, tmp_path / "target.md")  # dangling
    with pytest.raises(FileExistsError):
        write_new(tmp_path / "target.md", "text")
    assert not victim.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["target.md"]  # no temporary file left


def test_code_spans_are_masked_in_one_pass():
    assert mask_code_spans("a `<b>` c ``x`y`` d ` e") == "a       c         d ` e"
    assert mask_code_spans("`" * 9999) == "`" * 9999  # one run, nothing to pair: no quadratic search
    assert mask_code_spans("`a`" * 3000).strip() == ""


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("arxiv", '"２１０６.０９６８５"', "is not an arXiv identifier"),
        ("doi", '"10.１０００/abc"', "is not a DOI"),
        ("date", '"２０２１"', "must be YYYY-MM-DD"),
    ],
)
def test_only_ascii_digits_make_ids_and_dates(make_project, field, value, words):
    project = make_project({"p": paper_text("A Paper", extra=f"{field}: {value}")})
    assert any(words in e.message for e in errors_of(project))


@pytest.mark.parametrize("char", ["\u2060", "\u034f", "\u061c", "\ufe0f", "\u2062", "\u2028", "\U000e0041"])
def test_invisible_characters_in_titles_are_errors(make_project, char):
    project = make_project({"p": paper_text(f"Contrastive{char} Learning")})
    assert any("invisible character" in e.message or "line break" in e.message for e in errors_of(project))


def test_a_file_name_ending_in_a_newline_is_not_a_slug(make_project):
    project = make_project({"good": paper_text("Good Paper")})
    (project.content / "papers" / "abc\n.md").write_text(paper_text("Other Paper"))
    assert any("is not a valid slug" in e.message for e in errors_of(project))


def test_messages_cannot_forge_workflow_commands(make_project):
    project = make_project(
        {"p": paper_text("A Paper", extra='"x\\n::error file=README.md,line=1::Approved": 1')}
    )
    report = BuildFailed(errors_of(project)).report()
    assert "\n::error" not in report and "x\\n::error" in report


def test_odd_bibtex_months_do_not_crash(make_project):
    project = make_project({})
    write_tree(
        project.root,
        {
            "refs.bib": "@misc{k, title={A Title Here}, year={2021}, month={\u00b2},"
            " abstract={" + ABSTRACT + "}}\n"
        },
    )
    report = import_file(project.root, project.root / "refs.bib", added="2024-01-01")
    assert len(report.written) == 1


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("- [r]: javascript:alert(1)\n\nSee [r].", "link scheme 'javascript:'"),
        ("> [r]: javascript:alert(1)\n\nSee [r].", "link scheme 'javascript:'"),
        (">[r]: data:text/html,x", "link scheme 'data:'"),
        ("Text <svg:script >alert(1)</svg:script>", "raw HTML"),
        ("Text <javascript:alert(1) > here", "raw HTML"),
    ],
)
def test_links_and_tags_hidden_in_lists_quotes_and_namespaces_are_caught(make_project, body, words):
    project = make_project({"p": paper_text("A Paper", body=body)})
    assert any(words in e.message for e in errors_of(project))
