"""Contributor tools: check (annotations, strict), duplicates, new, BibTeX import."""

from __future__ import annotations

import datetime as dt
import difflib
import random
import shutil
import subprocess
import sys

import pytest

from generator.build import build, load_catalogue
from generator.duplicates import jaccard, near_pairs, normalise_title, similar_title_warnings
from generator.errors import BuildFailed
from generator.model import Paper
from generator.scaffold import new_paper
from generator.sources import import_file

from .conftest import REPO, paper_text, write_tree

ABSTRACT = "We study fine-tuning. " * 15


def cli(root, *args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "generator", "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", **(env or {})},
    )


def test_check_on_the_committed_catalogue_is_clean():
    done = cli(REPO, "check")
    assert done.returncode == 0, done.stderr
    papers = len(list((REPO / "content" / "papers").glob("*.md")))
    assert f"checked {papers} paper{'' if papers == 1 else 's'}: no errors" in done.stdout


def test_check_counts_one_paper_in_the_singular(make_project):
    project = make_project({"only": paper_text("Only", body=ABSTRACT)})
    done = cli(project.root, "check")
    assert done.returncode == 0 and done.stdout.splitlines()[-1].startswith("checked 1 paper: no errors,")


def test_check_reports_sorted_located_errors_and_github_annotations(make_project):
    project = make_project(
        {
            "b-paper": paper_text("B", extra='titel: "x"', body=ABSTRACT),
            "a-paper": paper_text("A", topics='["fine-tunng"]', body=ABSTRACT),
        }
    )
    for env, args in (({}, ("--format", "github")), ({"GITHUB_ACTIONS": "true"}, ())):
        done = cli(project.root, "check", *args, env=env)
        assert done.returncode == 1
        err = done.stderr.splitlines()
        assert err[0] == "content/papers/a-paper.md:5:10: unknown topic 'fine-tunng'"
        assert err[1] == "  hint: did you mean 'fine-tuning'?"
        assert err[2] == "content/papers/b-paper.md:7:1: unknown field 'titel'"
        assert err[-2:] == ["2 errors in 2 files", "2 of 2 paper files rejected, 0 valid"]
        assert (
            "::error file=content/papers/a-paper.md,line=5,col=10::unknown topic 'fine-tunng' "
            "(hint%3A did you mean 'fine-tuning'?)"
        ) in done.stdout.replace("(hint: ", "(hint%3A ")
        assert "::error file=content/papers/b-paper.md,line=7,col=1::unknown field 'titel'" in done.stdout
    assert not (project.root / "site").exists()


def test_warnings_are_shown_and_strict_makes_them_errors(make_project):
    project = make_project(
        {
            "a": paper_text("Alpha", tags='["lonely", "shared"]', body="Short.").replace(
                'authors: ["Ada Lovelace", "Alan Turing"]', "authors: []"
            ),
            "b": paper_text(
                "Beta", tags='["shared"]', extra='date: "2023"\nurl: "https://x.org/b"', body=ABSTRACT
            ),
        }
    )
    done = cli(project.root, "check")
    assert done.returncode == 0
    out = done.stdout
    assert "content/papers/a.md:6:8: warning: tag 'lonely' is used by no other paper" in out
    assert "content/papers/a.md:9:1: warning: abstract is only 6 characters" in out
    assert "content/papers/a.md:2:1: warning: no publication 'date'" in out
    assert "content/papers/a.md:2:1: warning: no 'arxiv', 'doi' or 'url': readers cannot get from here" in out
    assert "content/papers/a.md:3:1: warning: no authors: citations of it name no one" in out
    assert "5 warnings in 1 file" in out
    strict = cli(project.root, "check", "--strict")
    assert strict.returncode == 1 and "5 errors in 1 file" in strict.stderr
    assert "abstract is only 6 characters (strict)" in strict.stderr


DUPLICATE_CASES = [
    ("arxiv version", 'arxiv: "2106.09685"', 'arxiv: "2106.09685v2"', "Other Title", "same arXiv id", 7),
    ("same arxiv", 'arxiv: "2106.09685"', 'arxiv: "2106.09685"', "Other Title", "same arXiv id", 7),
    ("same doi", 'doi: "10.1234/abc"', 'doi: "https://doi.org/10.1234/ABC"', "Other Title", "same DOI", 7),
    ("homoglyph title", "", "", "\u0410ttention Is All You Need", "same title", 2),
    ("accents and case", "", "", "ATTENTION is all you need!!", "same title", 2),
    (
        "near title",
        "",
        "",
        "Attention Is All You Need for Neural Machine Translation of Long Texts",
        "nearly the same title",
        2,
    ),
]


@pytest.mark.parametrize(
    ("extra_a", "extra_b", "title_b", "words", "line"),
    [c[1:] for c in DUPLICATE_CASES],
    ids=[c[0] for c in DUPLICATE_CASES],
)
def test_duplicates_name_the_existing_file(make_project, extra_a, extra_b, title_b, words, line):
    title_a = (
        "Attention Is All You Need for Machine Translation of Long Texts"
        if "Long" in title_b
        else "Attention Is All You Need"
    )
    project = make_project(
        {
            "attention": paper_text(title_a, extra=extra_a, added='"2024-01-01"'),
            "newer": paper_text(title_b, extra=extra_b, added='"2024-06-01"'),
        }
    )
    with pytest.raises(BuildFailed) as caught:
        load_catalogue(project)
    (error,) = caught.value.errors
    assert error.path == "content/papers/newer.md" and error.line == line
    assert f"{words} as content/papers/attention.md" in error.message
    assert 'same_as: "attention"' in error.hint


def test_same_as_links_versions_deliberately(make_project):
    project = make_project(
        {
            "attention": paper_text("Attention Is All You Need", extra='arxiv: "1706.03762"'),
            "attention-neurips": paper_text(
                "Attention Is All You Need",
                added='"2024-06-01"',
                extra='arxiv: "1706.03762"\nsame_as: "attention"',
            ),
        }
    )
    catalogue, _ = load_catalogue(project)
    assert len(catalogue.papers) == 2
    write_tree(
        project.root,
        {
            "content/papers/attention-neurips.md": paper_text(
                "Attention Is All You Need", added='"2024-06-01"', extra='same_as: "atention"'
            )
        },
    )
    with pytest.raises(BuildFailed) as caught:
        load_catalogue(project)
    assert any("same_as names 'atention'" in e.message for e in caught.value.errors)


def test_tags_differing_only_by_hyphens_are_errors(make_project):
    project = make_project(
        {
            "a": paper_text("A", tags='["fine-tuning"]'),
            "b": paper_text("B", tags='["fine-tuning"]'),
            "c": paper_text("C", tags='["finetuning"]'),
        }
    )
    with pytest.raises(BuildFailed) as caught:
        load_catalogue(project)
    (error,) = caught.value.errors
    assert error.path == "content/papers/c.md" and (error.line, error.col) == (6, 8)
    assert "differs from the tag 'fine-tuning' only by hyphens" in error.message


@pytest.mark.parametrize("threshold", [0.9, 0.75, 0.5])
def test_near_pairs_agrees_with_brute_force(threshold):
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(40)]
    sets = [frozenset(rng.sample(vocab, rng.randint(1, 12))) for _ in range(300)]
    sets += [s | {"extra"} for s in sets[:40]] + sets[:20]
    long = [frozenset(rng.sample(vocab, rng.randint(10, 30))) for _ in range(60)]  # near the threshold
    sets += long + [s - {min(s)} for s in long] + [s | {f"x{k}", f"y{k}"} for k, s in enumerate(long)]
    brute = [
        (i, j)
        for i in range(len(sets))
        for j in range(i + 1, len(sets))
        if jaccard(sets[i], sets[j]) >= threshold
    ]
    assert brute and near_pairs(sets, threshold) == brute


def test_normalise_title_folds_homoglyphs_and_styled_letters():
    assert normalise_title("\u0410ttention") == normalise_title("attention")  # Cyrillic А
    assert normalise_title("\U0001d40b\U0001d428RA: T\u00fclu") == "lora tulu"  # 𝐋𝐨RA


def test_new_then_check_then_build_round_trips(make_project):
    project = make_project({"existing": paper_text("Existing Paper", extra='arxiv: "2001.00001"')})
    path, text = new_paper(
        project.root,
        title="LoRA: Low-Rank Adaptation of Large Language Models",
        abstract="We propose ``LoRA'', a low-rank adaptation method. " * 5,
        authors=["Edward J. Hu; Yelong Shen"],
        arxiv="2106.09685",
        date="2021-06",
        added="2024-07-01",
    )
    assert path == "content/papers/lora-low-rank-adaptation-of-large-language-models.md"
    written = (project.root / path).read_text()
    assert written == text
    assert 'authors: ["Edward J. Hu", "Yelong Shen"]' in text
    assert 'topics: ["parameter-efficient-fine-tuning"]' in text  # suggested from keywords
    assert "\u201cLoRA\u201d" in text
    shutil.copytree(REPO / "templates", project.root / "templates")
    assert cli(project.root, "check").returncode == 0
    build(project)
    assert (
        "Edward J. Hu, Yelong Shen"
        in (
            project.output / "papers/lora-low-rank-adaptation-of-large-language-models/index.html"
        ).read_text()
    )


def test_new_keeps_the_abstracts_paragraphs_and_shows_its_text_as_typed(make_project):
    project = make_project({})
    abstract = "We study *adapters*,\nwrapped as arXiv wraps lines.\n\n  \n1. A second paragraph\nthat starts with a number.\n"
    path, text = new_paper(project.root, title="Adapters Revisited", abstract=abstract, added="2024-07-01")
    shutil.copytree(REPO / "templates", project.root / "templates")
    build(project)
    page = (project.output / "papers/adapters-revisited/index.html").read_text()
    assert "<p>We study *adapters*, wrapped as arXiv wraps lines.</p>" in page
    assert "<p>1. A second paragraph that starts with a number.</p>" in page  # not a list


def test_paragraphs_markdown_would_turn_into_a_list_or_code_are_warned_about(make_project):
    surprising = ABSTRACT + (
        "\n\n2023. was a year.\n\n    An indented paragraph.\n\nSteps:\n\n1. one\n2. two\n\n    more about two\n"
        "\nSome prose\n- wrapped, not a list.\n\n2024. was the year.\n"
    )
    meant = ABSTRACT + "\n\nSteps:\n\n1. one\n\n2. two\n\n    more about two\n"
    project = make_project(
        {
            "a": paper_text(
                "Alpha", tags='["shared"]', extra='date: "2023"\nurl: "https://x.org/a"', body=surprising
            ),
            "b": paper_text(
                "Beta", tags='["shared"]', extra='date: "2023"\nurl: "https://x.org/b"', body=meant
            ),
        }
    )
    done = cli(project.root, "check")
    assert done.returncode == 0
    lines = [line for line in done.stdout.splitlines() if "warning:" in line]
    numbered = "which Markdown turns into a list item numbered 1"
    assert lines == [  # all at once: a flagged paragraph starts no list, and a list ends with prose
        f"content/papers/a.md:13:1: warning: this paragraph starts with '2023.', {numbered}",
        "content/papers/a.md:15:1: warning: this paragraph is indented, which Markdown shows as a block of code",
        f"content/papers/a.md:27:1: warning: this paragraph starts with '2024.', {numbered}",
    ]
    assert "write '2024\\.' to keep the number as text" in done.stdout


def test_new_refuses_duplicates_and_bad_values(make_project):
    project = make_project({"existing": paper_text("Existing Paper", extra='arxiv: "2001.00001"')})
    with pytest.raises(BuildFailed) as caught:
        new_paper(project.root, title="Another", abstract=ABSTRACT, arxiv="2001.00001")
    assert "already in the catalogue as content/papers/existing.md (same arXiv id)" in caught.value.report()
    with pytest.raises(BuildFailed) as caught:
        new_paper(project.root, title="Another", abstract=ABSTRACT, arxiv="2001.1", topics=["nope"])
    report = caught.value.report()
    assert "'2001.1' is not an arXiv identifier" in report and "unknown topic 'nope'" in report
    assert sorted(p.name for p in (project.content / "papers").iterdir()) == ["existing.md"]


def test_new_reports_the_flags_problems_with_the_file_s_at_once(make_project):
    project = make_project({})
    with pytest.raises(BuildFailed) as caught:
        new_paper(project.root, title="Another", abstract=" ", added="2026-13-01", date="2021/06")
    report = caught.value.report()
    assert "new paper: no abstract" in report and "pipe the abstract on stdin" in report
    assert "--added '2026-13-01' is not a real calendar date" in report
    assert "'date' must be YYYY-MM-DD, YYYY-MM or YYYY, not '2021/06'" in report
    with pytest.raises(BuildFailed) as caught:
        new_paper(project.root, title=" ", abstract="", added="x")
    report = caught.value.report()
    assert "--title is required" in report and "no abstract" in report and "not 'x'" in report
    assert not (project.content / "papers").exists()
    with pytest.raises(BuildFailed) as caught:
        new_paper(
            project.root,
            title="Another",
            abstract="",
            abstract_error="cannot read the abstract from a.txt: No such file or directory",
            added="2026-02-30",
            doi="foo",
        )
    report = caught.value.report()
    assert "new paper: cannot read the abstract from a.txt: No such file or directory" in report
    assert "no abstract" not in report and "--added '2026-02-30' is not a real calendar date" in report
    assert "'foo' is not a DOI" in report


def test_new_cli_reads_the_abstract_from_stdin(make_project):
    project = make_project({})
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "generator",
            "--root",
            str(project.root),
            "new",
            "--title",
            "Adapters Everywhere",
            "--topic",
            "parameter-efficient-fine-tuning",
            "--tag",
            "adapters",
        ],
        input=ABSTRACT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "content/papers/adapters-everywhere.md"
    text = (project.content / "papers/adapters-everywhere.md").read_text()
    assert 'tags: ["adapters"]' in text and 'topics: ["parameter-efficient-fine-tuning"]' in text


BIB = r"""@article{hu2021lora,
  title = {Lo{RA}: Low-Rank Adaptation of Large Language Models},
  author = {Hu, Edward J. and Shen, Yelong and M{\"u}ller, Hans},
  journal = {arXiv preprint arXiv:2106.09685},
  year = {2021},
  month = jun,
  keywords = {LoRA, Low-rank},
  abstract = {We propose Low-Rank Adaptation, or LoRA, which freezes the pre-trained model weights and injects trainable rank decomposition matrices.},
}

@inproceedings{wei2022flan,
  title = {Finetuned Language Models are Zero-Shot Learners},
  author = {Wei, Jason and Bosma, Maarten},
  booktitle = {ICLR},
  year = {2022},
  doi = {10.48550/arXiv.2109.01652},
  url = {https://openreview.net/forum?id=gEZrGCozdqR},
  abstract = {This paper explores a simple method for improving the zero-shot learning abilities of language models via instruction tuning.},
}
"""


def test_bibtex_import_maps_fields(make_project):
    project = make_project({})
    write_tree(project.root, {"refs.bib": BIB})
    report = import_file(project.root, project.root / "refs.bib", added="2024-07-01")
    assert len(report.written) == 2
    catalogue, _ = load_catalogue(project)
    lora = next(p for p in catalogue.papers if p.arxiv)
    assert lora.title == "LoRA: Low-Rank Adaptation of Large Language Models"
    assert lora.authors == ("Edward J. Hu", "Yelong Shen", "Hans Müller")
    assert (lora.date, lora.arxiv, lora.tags) == ("2021-06", "2106.09685", ("lora", "low-rank"))
    assert lora.source == "listings/refs.bib:1"
    flan = next(p for p in catalogue.papers if p.doi)
    assert (
        flan.doi == "10.48550/arXiv.2109.01652" and flan.url == "https://openreview.net/forum?id=gEZrGCozdqR"
    )
    assert flan.topics == ("instruction-tuning",)
    again = import_file(project.root, project.root / "refs.bib", added="2024-07-02")
    assert again.written == [] and len(again.skipped) == 2


def test_bibtex_syntax_errors_are_located_and_nothing_is_written(make_project):
    project = make_project({})
    write_tree(project.root, {"refs.bib": BIB + "\n@misc{broken, title = {Unclosed\n"})
    with pytest.raises(BuildFailed) as caught:
        import_file(project.root, project.root / "refs.bib", added="2024-07-01")
    assert caught.value.errors[0].format().startswith("refs.bib:21:1: cannot parse this BibTeX block")
    assert not list((project.content / "papers").glob("*.md"))


def test_new_refuses_what_check_would_call_a_duplicate(make_project):
    project = make_project(
        {
            "existing": paper_text(
                "Understanding Catastrophic Forgetting in Language Models via Implicit Inference",
                extra='doi: "10.18653/v1/2023.acl-long.754"',
            )
        }
    )
    with pytest.raises(BuildFailed) as caught:
        new_paper(
            project.root,
            title="Another",
            abstract=ABSTRACT,
            doi="https://doi.org/10.18653/V1/2023.acl-long.754",
        )
    assert "content/papers/existing.md (same DOI)" in caught.value.report()
    with pytest.raises(BuildFailed) as caught:
        new_paper(
            project.root,
            title="Understanding Catastrophic Forgetting in Large Language Models via Implicit Inference",
            abstract=ABSTRACT,
        )
    assert "nearly the same title as content/papers/existing.md" in caught.value.report()
    assert sorted(p.name for p in (project.content / "papers").iterdir()) == ["existing.md"]


def test_import_skips_near_duplicates_and_says_so(make_project):
    project = make_project(
        {
            "existing": paper_text(
                "Understanding Catastrophic Forgetting in Language Models via Implicit Inference"
            )
        }
    )
    listing = (
        "Mar 18\n\nUnderstanding Catastrophic Forgetting in Large Language Models via Implicit Inference\n\n"
        + ABSTRACT
        + "\n\nA Genuinely New Paper on Adapters\n\n"
        + ABSTRACT
        + "\n"
    )
    write_tree(project.root, {"listing.txt": listing})
    report = import_file(project.root, project.root / "listing.txt", added="2024-07-01")
    assert report.written == ["content/papers/a-genuinely-new-paper-on-adapters.md"]
    assert "nearly the same title as content/papers/existing.md" in report.skipped[0]
    assert "review it by hand" in report.skipped[0]


def test_similar_titles_get_a_warning(make_project):
    project = make_project(
        {
            "a": paper_text("Instruction Tuned Models are Quick Learners", body=ABSTRACT),
            "b": paper_text(
                "Instruction Tuned Models are Quick Lerners", added='"2024-06-01"', body=ABSTRACT
            ),
        }
    )
    _, warnings = load_catalogue(project)
    similar = [w for w in warnings if "very similar" in w.message]
    assert [(w.path, w.message) for w in similar] == [
        ("content/papers/b.md", "title is very similar to content/papers/a.md")
    ]


def _look_alike(earlier: Paper, later: Paper) -> bool:
    """similar_title_warnings' rule for one pair: the later title is the earlier one with one
    word changed into a look-alike; not linked, not a near duplicate."""
    first, then = (frozenset(normalise_title(p.title).split()) for p in (earlier, later))
    gone, new = first - then, then - first
    return (
        len(gone) == len(new) == 1
        and len(first) >= 3
        and earlier.same_as != later.slug
        and later.same_as != earlier.slug
        and jaccard(first, then) < 0.9
        and difflib.SequenceMatcher(None, min(gone), min(new)).ratio() >= 0.75
    )


def test_similar_title_warnings_agree_with_every_pair():
    rng = random.Random(11)
    alike = {"tuning": "tunning", "models": "modles", "adapter": "adaptor", "data": "date", "rank": "ranks"}
    vocab = [*alike, *alike.values(), *(f"w{k}" for k in range(10))]
    papers: list[Paper] = []
    for k in range(400):
        words = rng.sample(vocab, rng.randint(2, 6))
        if papers and rng.random() < 0.6:  # another paper's title, one word changed
            words = normalise_title(rng.choice(papers).title).split()
            at = rng.randrange(len(words))
            words[at] = alike.get(words[at]) or rng.choice(vocab)
        papers.append(
            Paper(
                slug=f"p{k}",
                title=" ".join(words).title(),
                authors=(),
                added=dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(30)),
                topics=(),
                tags=(),
                body_md="",
                path=f"content/papers/p{k}.md",
                same_as=f"p{rng.randrange(400)}" if rng.random() < 0.1 else None,
            )
        )
    ordered = sorted(papers, key=lambda p: (p.added, p.path))
    expected = [p.path for j, p in enumerate(ordered) if any(_look_alike(e, p) for e in ordered[:j])]
    warned = similar_title_warnings(papers)
    assert len(expected) > 20
    assert sorted(w.path for w in warned) == sorted(expected)
    place = {p.path: k for k, p in enumerate(ordered)}
    for w in warned:  # each names an earlier title it is a look-alike of
        named = ordered[place[w.message.removeprefix("title is very similar to ")]]
        assert place[named.path] < place[w.path] and _look_alike(named, ordered[place[w.path]])


def test_check_files_limits_warnings_and_strict_to_those_files(make_project):
    project = make_project(
        {
            "mine": paper_text("Mine", body="Short."),
            "theirs": paper_text("Theirs", body="Short too."),
        }
    )
    done = cli(project.root, "check", "content/papers/mine.md")
    assert done.returncode == 0
    assert "content/papers/mine.md" in done.stdout and "content/papers/theirs.md" not in done.stdout
    strict = cli(project.root, "check", "--strict", "content/papers/mine.md")
    assert strict.returncode == 1
    assert "content/papers/mine.md:9:1: abstract is only 6 characters (strict)" in strict.stderr
    assert "theirs.md" not in strict.stderr


def test_check_files_must_be_paper_files_and_their_warnings_show_beside_errors_elsewhere(make_project):
    project = make_project({"mine": paper_text("Mine", body="Short."), "theirs": paper_text("Theirs")})
    for wrong in ("content/papers/mnie.md", "README.md", "content/site.yml"):
        done = cli(project.root, "check", wrong)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert f"error: check: {wrong} is not a paper file of this catalogue" in done.stderr
    theirs = project.content / "papers" / "theirs.md"
    theirs.write_text(theirs.read_text().replace('topics: ["fine-tuning"]', 'topics: ["fine-tunin"]'))
    done = cli(project.root, "check", "content/papers/mine.md")
    assert done.returncode == 1
    assert "content/papers/theirs.md:" in done.stderr and "unknown topic 'fine-tunin'" in done.stderr
    assert "content/papers/mine.md:9:1: warning: abstract is only 6 characters" in done.stdout
    everything = cli(project.root, "check")
    assert "content/papers/mine.md:9:1: warning: abstract is only 6 characters" in everything.stdout
    strict = cli(project.root, "check", "--strict", "content/papers/mine.md")
    assert strict.returncode == 1 and "unknown topic 'fine-tunin'" in strict.stderr
    assert "content/papers/mine.md:9:1: abstract is only 6 characters (strict)" in strict.stderr


def test_bibtex_subject_keywords_and_unknown_keywords_are_not_tags(make_project):
    project = make_project({"existing": paper_text("Existing", tags='["lora"]')})
    bib = BIB.replace(
        "keywords = {LoRA, Low-rank}", "keywords = {Computer Science - Machine Learning, LoRA, Weird Stuff}"
    )
    write_tree(project.root, {"refs.bib": bib})
    report = import_file(project.root, project.root / "refs.bib", added="2024-07-01")
    catalogue, _ = load_catalogue(project)
    lora = next(p for p in catalogue.papers if p.arxiv)
    assert lora.tags[0] == "lora"
    assert not {"computer-science-machine-learning", "weird-stuff"} & set(lora.tags)
    path = f"content/papers/{lora.slug}.md"  # the report says what was left out
    note = f"  {path}: keywords: lora as tags; left out weird-stuff: no paper has them as tags yet (add them by hand)"
    assert [line for line in report.lines() if "keywords:" in line] == [note]


def test_bibtex_keywords_that_name_topics_become_topics_and_c_plus_plus_keeps_its_pluses(make_project):
    project = make_project({"existing": paper_text("Existing", tags='["lora"]')})
    bib = BIB.replace("keywords = {LoRA, Low-rank}", "keywords = {LoRA; instruction-tuning; C++}")
    write_tree(project.root, {"refs.bib": bib})
    report = import_file(project.root, project.root / "refs.bib", added="2024-07-01")
    catalogue, _ = load_catalogue(project)
    lora = next(p for p in catalogue.papers if p.arxiv)
    assert "instruction-tuning" in lora.topics and lora.tags[0] == "lora", (lora.topics, lora.tags)
    path = f"content/papers/{lora.slug}.md"
    assert (
        f"  {path}: keywords: lora as tags; instruction-tuning as topics; left out c-plus-plus: no paper"
        in ("\n".join(report.lines()))
    )


def test_a_bibtex_entry_without_an_abstract_is_imported_with_a_note(make_project):
    project = make_project({})
    bib = BIB.split("@inproceedings")[0].replace(
        "  abstract = {We propose Low-Rank Adaptation, or LoRA, which freezes the pre-trained model weights"
        " and injects trainable rank decomposition matrices.},\n",
        "",
    )
    assert "abstract" not in bib
    write_tree(project.root, {"refs.bib": bib})
    report = import_file(project.root, project.root / "refs.bib", added="2024-07-01")
    (path,) = report.written
    assert f"  {path}: no abstract in the source: paste the paper's below the front matter" in report.lines()


def test_a_bare_percent_in_a_bibtex_value_is_text_not_the_start_of_a_comment(make_project):
    """BibTeX keeps "%" inside a value; LaTeX decoding would drop the rest of the value."""
    project = make_project({})
    bib = BIB.replace(
        "abstract = {We propose Low-Rank Adaptation",
        "abstract = {Only 0.01% of the weights (a 99% cut), code at https://github.com/microsoft/LoRA. We propose Low-Rank Adaptation",
    )
    write_tree(project.root, {"refs.bib": "% exported by hand\n" + bib})
    import_file(project.root, project.root / "refs.bib", added="2024-07-01")
    catalogue, _ = load_catalogue(project)
    lora = next(p for p in catalogue.papers if p.arxiv)
    assert lora.body_md.startswith("Only 0.01% of the weights (a 99% cut), code at")
    assert "rank decomposition matrices" in lora.body_md and lora.code == "https://github.com/microsoft/LoRA"


def test_where_a_paper_was_published_comes_from_bibtex_or_new_and_shows_everywhere(make_project):
    import json

    project = make_project({})
    bib = BIB.replace("booktitle = {ICLR}", "booktitle = {{ICLR} 2022}") + (
        "\n@article{jmlr, title = {Adapters in a Journal}, journal = {Journal of Machine Learning Research},"
        " year = {2023}, abstract = {We adapt things, with adapters, at some length to be an abstract.}}\n"
        "@article{corr, title = {A Mere Preprint}, journal = {CoRR}, volume = {abs/2301.11111}, year = {2023},"
        " url = {https://doi.org/10.48550/arXiv.2301.11111},"
        " abstract = {We adapt things, with adapters, at some length to be an abstract.}}\n"
        "@inproceedings{pmlr, title = {Adapters in a Series}, journal = {Proceedings of Machine Learning Research},"
        " year = {2023}, abstract = {We adapt things, with adapters, at some length to be an abstract.}}\n"
    )
    write_tree(project.root, {"refs.bib": bib})
    import_file(project.root, project.root / "refs.bib", added="2024-07-01")
    new_paper(
        project.root, title="Adapters in Nature", abstract=ABSTRACT, journal="Nature  Machine Intelligence"
    )
    catalogue, _ = load_catalogue(project)
    where = {p.title: (p.journal, p.proceedings) for p in catalogue.papers}
    assert where == {
        "LoRA: Low-Rank Adaptation of Large Language Models": (None, None),  # "arXiv preprint ..."
        "Finetuned Language Models are Zero-Shot Learners": (None, "ICLR 2022"),  # a booktitle
        "Adapters in a Journal": ("Journal of Machine Learning Research", None),
        "A Mere Preprint": (None, None),  # CoRR is arXiv
        "Adapters in a Series": (None, "Proceedings of Machine Learning Research"),  # named as a journal
        "Adapters in Nature": ("Nature Machine Intelligence", None),  # spaces collapsed
    }
    build(project)
    flan = next(p for p in catalogue.papers if p.proceedings == "ICLR 2022")
    page = (project.output / "papers" / flan.slug / "index.html").read_text()
    assert "<dt>In</dt><dd>ICLR 2022</dd>" in page
    assert '<meta name="citation_conference_title" content="ICLR 2022">' in page
    assert "@inproceedings{" in page and "booktitle = {ICLR 2022}" in page
    nature = next(p for p in catalogue.papers if p.journal == "Nature Machine Intelligence")
    page = (project.output / "papers" / nature.slug / "index.html").read_text()
    assert '<meta name="citation_journal_title" content="Nature Machine Intelligence">' in page
    assert "@article{" in page and "journal = {Nature Machine Intelligence}" in page
    records = json.loads((project.output / "papers.json").read_text())["papers"]
    assert {r["title"]: (r["journal"], r["proceedings"]) for r in records} == where
    preprint = next(p for p in catalogue.papers if p.title == "A Mere Preprint")
    assert (preprint.arxiv, preprint.doi, preprint.url) == (
        "2301.11111",
        "10.48550/arXiv.2301.11111",
        None,
    )  # DBLP's way
    page = (project.output / "papers" / preprint.slug / "index.html").read_text()
    assert "@misc{" in page  # a DOI, but no journal: a preprint


def test_a_bibtex_title_keeps_its_mathematics_and_tex_names_and_urls_stay_as_written(make_project):
    project = make_project({})
    bib = (
        "@techreport{x, title = {An $\\mathcal{O}(n^2)$ Method for {\\TeX}-heavy and \\LaTeX{} Papers},\n"
        "  author = {Smith, John}, year = {2023}, institution = {Some Lab}, number = {42},\n"
        "  url = {https://example.org/~smith/paper?id=1&v=2},\n"
        "  doi = {10.1007/978-3-030-58452-8_13},\n"
        "  abstract = {A long enough abstract about methods, with words enough to be one: "
        + "more " * 30
        + "}}\n"
    )
    write_tree(project.root, {"refs.bib": bib})
    report = import_file(project.root, project.root / "refs.bib", added="2024-07-01")
    (path,) = report.written
    catalogue, _ = load_catalogue(project)
    (paper,) = catalogue.papers
    assert paper.title == "An $\\mathcal{O}(n^2)$ Method for TeX-heavy and LaTeX Papers"
    assert paper.url == "https://example.org/~smith/paper?id=1&v=2"
    assert paper.doi == "10.1007/978-3-030-58452-8_13"
    assert f"  {path}: left out number, institution (a paper file has no such fields)" in report.lines()


def test_an_organisation_braced_in_a_bibtex_author_list_stays_one(make_project):
    project = make_project({})
    bib = (
        "@misc{g, title = {Gemini: A Family of Highly Capable Multimodal Models}, year = {2023},\n"
        "  author = {{Google DeepMind} and Smith, John and {OpenAI} and {Allen Institute and University of Washington}\n"
        '    and M{\\"u}ller, Thomas},\n'
        "  abstract = {A long enough abstract about models, with words enough to be one: "
        + "more " * 30
        + "}}\n"
    )
    write_tree(project.root, {"refs.bib": bib})
    (path,) = import_file(project.root, project.root / "refs.bib", added="2024-07-01").written
    written = (project.root / path).read_text()
    assert (
        'authors: ["{Google DeepMind}", "John Smith", "{OpenAI}", "{Allen Institute and University of Washington}",'
        ' "Thomas Müller"]'
    ) in written
    catalogue, _ = load_catalogue(project)
    (paper,) = catalogue.papers
    assert paper.organisations == (
        "Google DeepMind",
        "OpenAI",
        "Allen Institute and University of Washington",
    )
