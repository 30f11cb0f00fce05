"""Import: listing parsing, typographic clean-up, suggestions, idempotence, all-or-nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from generator import typography
from generator.build import build, load_catalogue
from generator.errors import BuildFailed
from generator.listing import parse_listing
from generator.markup import make_converter, plain_text, render_markdown
from generator.model import Topic
from generator.sources import import_file as import_listing
from generator.suggest import suggest_tags, suggest_topics

from .conftest import write_tree

ABSTRACT_A = (
    "We study instruction tuning of language models (e.g. FLAN) and find it helps. "
    "Our code is at https://github.com/PandaVT/DataTager. Some ``quoted'' words and T\\\"ulu "
    "with sim0.01% of parameters and 1\\% more."
)
ABSTRACT_B = (
    "Low-rank adaptation (LoRA) trains adapters with few parameters; this is parameter-efficient "
    "fine-tuning with *stars* and _underscores_ and [brackets] and <tags> & ampersands."
)
LISTING = f"""new

Get trending papers in your email inbox!

Subscribe

byAK and the research community

Mar 18

Instruction Tuning for Everyone

{ABSTRACT_A}

LoRA Adapters Revisited

{ABSTRACT_B}
"""


def test_typography_cleans_latex_leftovers():
    assert typography.clean("``skills,''") == "\u201cskills,\u201d"
    assert typography.clean('T\\"ulu and {\\"o} and \\\'e') == "Tülu and ö and é"
    assert typography.clean("(sim0.01% of parameters)") == "(~0.01% of parameters)"
    assert typography.clean("less than 1\\% of") == "less than 1% of"
    assert typography.clean("a $\\sim$5x gain") == "a ~5x gain"
    assert typography.clean("similar simulation") == "similar simulation"


@pytest.mark.parametrize(
    ("text", "url", "rest"),
    [
        ("https://github.com/PandaVT/DataTager.", "https://github.com/PandaVT/DataTager", "."),
        ("https://mcgill-nlp.github.io/weblinx", "https://mcgill-nlp.github.io/weblinx", ""),
        ("https://en.wikipedia.org/wiki/Foo_(bar)),", "https://en.wikipedia.org/wiki/Foo_(bar)", "),"),
    ],
)
def test_urls_do_not_swallow_trailing_punctuation(text, url, rest):
    assert typography.split_url(text) == (url, rest)


def test_markdown_output_renders_word_for_word():
    converter = make_converter()
    for raw in (ABSTRACT_A, ABSTRACT_B, "1. Not a list", "# not a heading", "- not a bullet"):
        cleaned = typography.clean(raw)
        html = render_markdown(converter, typography.to_markdown(cleaned))
        assert plain_text(html) == cleaned


def test_links_in_abstracts_become_links():
    html = render_markdown(make_converter(), typography.to_markdown(typography.clean(ABSTRACT_A)))
    assert '<a href="https://github.com/PandaVT/DataTager" rel=' in html
    assert "DataTager</a>." in html
    assert typography.code_url(ABSTRACT_A) == "https://github.com/PandaVT/DataTager"
    data, model = "https://huggingface.co/datasets/m-a-p/COIG-CQIA", "https://huggingface.co/m-a-p/model"
    assert typography.code_url(f"Data at {data}.") is None
    assert typography.code_url(f"Data at {data}, model at {model}.") == model


def test_parse_listing_skips_chrome_and_pairs_entries():
    listing, errors = parse_listing(LISTING, "l.txt")
    assert errors == []
    assert listing.date_text == "Mar 18"
    assert [(e.title, e.title_line, e.abstract_line) for e in listing.entries] == [
        ("Instruction Tuning for Everyone", 11, 13),
        ("LoRA Adapters Revisited", 15, 17),
    ]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("Nothing here\n\nat all\n", 1, "no date line"),
        ("Mar 18\n\nA Title\n\nToo short.\n\nAnother Title\n\n" + "x" * 200 + "\n", 3, "has no abstract"),
        ("Mar 18\n\n" + "y" * 400 + "\n\nA Title\n\n" + "x" * 200 + "\n", 3, "expected a paper title"),
        ("Mar 18\n\nLonely Title\n", 3, "has no abstract"),
    ],
)
def test_unparseable_listing_names_the_line(text, line, words):
    listing, errors = parse_listing(text, "l.txt")
    assert listing is None
    assert errors[0].line == line and words in errors[0].message


TOPICS = (
    Topic("fine-tuning", "Fine-tuning", "", ("fine-tuning|finetuning",)),
    Topic("instruction-tuning", "Instruction tuning", "", ("instruction tuning|instruction-tuned",)),
    Topic("peft", "PEFT", "", ("lora|low-rank adaptation", "adapters|adapter", "peft|parameter-efficient")),
)


def test_suggestions_rank_topics_and_name_tags_after_first_synonym():
    topics = suggest_topics("LoRA Adapters Revisited", ABSTRACT_B, TOPICS)
    assert topics[0] == "peft"
    tags = suggest_tags("LoRA Adapters Revisited", ABSTRACT_B, TOPICS, topics)
    assert {"lora", "adapters"} <= set(tags)
    assert "peft" not in tags  # a chosen topic is not repeated as a tag
    assert suggest_topics("Unrelated", "Nothing matches here at all.", TOPICS) == ("fine-tuning",)


@pytest.fixture
def project(make_project):
    project = make_project({})
    write_tree(project.root, {"listing.txt": LISTING})
    return project


def test_import_writes_valid_papers_that_build(project):
    report = import_listing(project.root, project.root / "listing.txt", today=dt.date(2026, 3, 18))
    assert len(report.written) == 2
    catalogue, _ = load_catalogue(project)
    by_title = {p.title: p for p in catalogue.papers}
    paper = by_title["Instruction Tuning for Everyone"]
    assert paper.added == dt.date(2026, 3, 18)
    assert paper.topics == ("instruction-tuning",)
    assert paper.code == "https://github.com/PandaVT/DataTager"
    assert paper.source == "listings/listing.txt:11"
    assert (project.content / "listings" / "listing.txt").read_text() == LISTING
    assert report.kept == "content/listings/listing.txt"
    assert "Tülu" in paper.body_md and "\u201cquoted\u201d" in paper.body_md
    assert by_title["LoRA Adapters Revisited"].topics[0] == "parameter-efficient-fine-tuning"
    build(project)
    html = (project.output / f"papers/{paper.slug}/index.html").read_text()
    assert "~0.01%" in html


def test_import_is_idempotent_and_never_overwrites(project):
    import_listing(project.root, project.root / "listing.txt", added="2026-03-18")
    papers = project.content / "papers"
    first = {p.name: p.read_bytes() for p in papers.iterdir()}
    edited = papers / "lora-adapters-revisited.md"
    edited.write_text(edited.read_text().replace("tags: [", 'tags: ["curated", '))
    report = import_listing(project.root, project.root / "listing.txt", added="2026-04-01")
    assert report.written == [] and len(report.skipped) == 2
    assert "already in the catalogue as content/papers/lora-adapters-revisited.md" in report.lines()[1]
    assert '"curated"' in edited.read_text()
    assert sorted(p.name for p in papers.iterdir()) == sorted(first)


def test_same_title_with_different_punctuation_is_not_imported_again(project):
    write_tree(project.root, {"content/papers/existing.md": '---\ntitle: "lora adapters, revisited!"\n---\n'})
    report = import_listing(project.root, project.root / "listing.txt", added="2026-03-18")
    assert report.written == ["content/papers/instruction-tuning-for-everyone.md"]
    assert "existing.md" in report.skipped[0]


def test_bad_listing_writes_nothing(project):
    write_tree(project.root, {"bad.txt": LISTING.replace(ABSTRACT_B, "Short.")})
    with pytest.raises(BuildFailed) as caught:
        import_listing(project.root, project.root / "bad.txt", added="2026-03-18")
    assert (
        caught.value.errors[0]
        .format()
        .startswith("bad.txt:15:1: title 'LoRA Adapters Revisited' has no abstract")
    )
    assert not (project.content / "papers").exists() or not list((project.content / "papers").iterdir())


def test_dry_run_writes_nothing(project):
    report = import_listing(project.root, project.root / "listing.txt", added="2026-03-18", dry_run=True)
    assert len(report.written) == 2 and "dry run" in report.lines()[-1]
    assert not list((project.content / "papers").glob("*.md"))


def test_a_long_title_s_slug_keeps_its_words_in_order_and_a_taken_one_is_cut_at_a_word():
    from generator.importer import make_slug

    title = "CorpusBrain: Pre-train a Generative Retrieval Model for Knowledge-Intensive Language Tasks"
    slug = make_slug(title, set())
    assert (
        slug == "corpusbrain-pre-train-a-generative-retrieval-model-for-knowledge-intensive"
    )  # not "-tasks"
    again = make_slug(title, {slug})
    assert again == "corpusbrain-pre-train-a-generative-retrieval-model-for-knowledge-intensive-2"
    long = "Efficient Fine-Tuning of Large Language Models for Faster, Smaller and Inexpensive Inference"
    first = make_slug(long, set())
    assert first == "efficient-fine-tuning-of-large-language-models-for-faster-smaller-and"
    assert make_slug(long, {first}) == first + "-2"
    assert make_slug("x" * 100, set()) == "x" * 80  # one word longer than a slug: cut
    full = make_slug("a" * 39 + " " + "b" * 40, set())  # 80 characters: a suffix cuts a word off
    assert (
        full == "a" * 39 + "-" + "b" * 40 and make_slug("a" * 39 + " " + "b" * 40, {full}) == "a" * 39 + "-2"
    )


def test_greek_letters_on_their_own_are_named_in_slugs():
    from generator.importer import make_slug

    assert make_slug("π-Tuning: Transferring Multimodal Foundation Models", set()).startswith("pi-tuning-")
    assert make_slug("μP for Everyone", set()) == "mup-for-everyone"
    assert make_slug("Λόγος and Ε-greedy", set()) == "logos-and-epsilon-greedy"  # a Greek word is spelt


PAGE_TEXT = f"""Mar 19

Submitted by
akhaliq

Upvote
187

Instruction Tuning for Everyone

{ABSTRACT_A}

Upvote 23

Previous
Next

LoRA Adapters Revisited

{ABSTRACT_B}

Next day
"""


def test_lines_of_page_text_between_papers_are_skipped_and_reported(make_project):
    listing, errors = parse_listing(PAGE_TEXT, "l.txt")
    assert errors == []
    assert [(e.title, e.title_line) for e in listing.entries] == [
        ("Instruction Tuning for Everyone", 9),
        ("LoRA Adapters Revisited", 18),
    ]
    assert [line for line, _ in listing.page_lines] == [3, 4, 6, 7, 13, 15, 16, 22]
    project = make_project({})
    write_tree(project.root, {"day.txt": PAGE_TEXT})
    report = import_listing(project.root, project.root / "day.txt", added="2026-03-19")
    assert len(report.written) == 2
    assert (
        "skipped 8 lines of page text between papers, by line: 'Submitted by' (3); 'akhaliq' (4);"
        " 'Upvote' (6); '187' (7); 'Upvote 23' (13); 'Previous' (15); 'Next' (16); 'Next day' (22)"
    ) in report.lines()


def test_page_text_glued_to_a_title_or_an_abstract_is_cut_off_and_reported():
    text = (
        "Mar 19\n\nSparse Adapter Fusion\nSubmitted by\nakhaliq\n\n"
        f"{ABSTRACT_A}\nUpvote\n42\n· 3 authors\n\nLoRA Adapters Revisited\n\n{ABSTRACT_B}\nSubmitted by:\n\nAhsen Khaliq\n"
        "\nMar 20\n\n#1 Paper of the day\n\nThird Paper\n\n"
        + ABSTRACT_B.replace("Low", "High")
        + "\nNext →\n"
    )
    listing, errors = parse_listing(text, "l.txt")
    assert errors == []
    assert [(e.title, e.abstract) for e in listing.entries] == [
        ("Sparse Adapter Fusion", ABSTRACT_A),
        ("LoRA Adapters Revisited", ABSTRACT_B),
        ("Third Paper", ABSTRACT_B.replace("Low", "High")),
    ]
    assert [t for _, t in listing.page_lines] == [
        "Submitted by", "akhaliq", "Upvote", "42", "· 3 authors", "Submitted by:", "Ahsen Khaliq",
        "Mar 20", "#1 Paper of the day", "Next →",
    ]  # fmt: skip


def test_an_abstract_split_by_a_line_that_looks_like_page_text_is_an_error_not_a_loss():
    text = f"Mar 19\n\nA Title\n\n{ABSTRACT_B}\nNext\n2023\nand more words after it.\n"
    listing, errors = parse_listing(text, "l.txt")
    assert listing is None
    (error,) = errors
    assert error.line == 8 and "has no abstract after it" in error.message
    assert "skipped as page text above it: line 6 'Next', 7 '2023'" in error.hint


def test_a_paper_above_the_date_line_is_an_error_not_dropped_with_the_header():
    text = f"Daily Papers\n\nEarly Paper\n\n{ABSTRACT_A}\n\nMar 19\n\nA Title\n\n{ABSTRACT_B}\n"
    listing, errors = parse_listing(text, "l.txt")
    assert listing is None
    assert [(e.line, e.message.split(" characters")[1]) for e in errors] == [
        (5, " above the date line (line 7)")
    ]


def test_a_title_without_its_abstract_is_caught_where_it_stands():
    """A title of 80-300 characters is not taken for the abstract of the title before it: the
    pairs would shift, and one paper's text go to another."""
    title_b = "We Study a New Adapter for Instruction Tuning of Very Large Language Models Across Tasks"
    title_c = "A Chinese Dataset of Nine Thousand Samples for Instruction Tuning in Law, Medicine and Finance"
    text = (
        f"Mar 19\n\nLonely Title\n\n{title_b}\n\n{ABSTRACT_A}\n\n{title_c}\n\n"
        f"LoRA Adapters Revisited\n\n{ABSTRACT_B}\n"
    )
    _, errors = parse_listing(text, "l.txt")
    assert [(e.line, e.message) for e in errors] == [
        (3, "title 'Lonely Title' has no abstract after it"),
        (9, f"title '{title_c[:60]}' has no abstract after it"),
    ]
    assert "line 5 reads as a title, not an abstract" in errors[0].hint


def test_when_a_title_reads_as_an_abstract_the_hint_points_back_at_the_pair():
    question = "Do Very Large Language Models Really Need Instruction Tuning Across All of Their Tasks?"
    text = f"Mar 19\n\nLonely Title\n\n{question}\n\n{ABSTRACT_A} {ABSTRACT_B}\n"
    _, errors = parse_listing(text, "l.txt")
    (error,) = errors
    assert error.line == 7 and "expected a paper title" in error.message
    assert "line 5 was read as the abstract of the title at line 3" in error.hint


def test_a_listing_with_windows_line_ends_can_be_imported_again(make_project):
    project = make_project({})
    write_tree(project.root, {"day.txt": ""})
    (project.root / "day.txt").write_bytes(LISTING.replace("\n", "\r\n").encode())
    first = import_listing(project.root, project.root / "day.txt", added="2026-03-18")
    again = import_listing(project.root, project.root / "day.txt", added="2026-03-18")
    assert len(first.written) == 2 and again.written == [] and len(again.skipped) == 2
    assert (project.content / "listings" / "day.txt").read_bytes() == (project.root / "day.txt").read_bytes()


def test_the_same_paper_twice_in_a_listing_is_named_as_such_in_source_order(project):
    twice = LISTING + f"\nInstruction tuning for everyone\n\n{ABSTRACT_A}\n"
    write_tree(project.root, {"twice.txt": twice})
    write_tree(project.root, {"content/papers/existing.md": '---\ntitle: "lora adapters, revisited!"\n---\n'})
    report = import_listing(project.root, project.root / "twice.txt", added="2026-03-18", dry_run=True)
    assert report.written == ["content/papers/instruction-tuning-for-everyone.md"]
    assert [s.split(":", 2)[1] for s in report.skipped] == ["15", "19"]  # as they come in the file
    assert "is in this file twice (same title): taken from twice.txt:11" in report.skipped[1]


def test_a_paper_whose_file_name_is_held_by_an_unreadable_file_is_skipped(project):
    write_tree(project.root, {"content/papers/lora-adapters-revisited.md": '---\ntitle: "LoRA\n'})
    report = import_listing(project.root, project.root / "listing.txt", added="2026-03-18")
    assert report.written == ["content/papers/instruction-tuning-for-everyone.md"]
    lines = "\n".join(report.lines())
    assert "could not read content/papers/lora-adapters-revisited.md" in lines
    assert (
        "its file name is taken by content/papers/lora-adapters-revisited.md, which cannot be read" in lines
    )
    assert not (project.content / "papers" / "lora-adapters-revisited-2.md").exists()


def test_imported_files_are_as_readable_as_the_umask_allows(project):
    import os

    old = os.umask(0o022)
    try:
        report = import_listing(project.root, project.root / "listing.txt", added="2026-03-18")
    finally:
        os.umask(old)
    for path in [*report.written, report.kept]:
        assert (project.root / path).stat().st_mode & 0o777 == 0o644


def test_the_report_says_what_to_do_next_and_warns_of_a_future_added_date(project):
    report = import_listing(
        project.root, project.root / "listing.txt", added="2026-04-01", today=dt.date(2026, 3, 18)
    )
    lines = report.lines()
    assert "'added' 2026-04-01 is in the future" in "\n".join(lines)
    assert lines[-2] == "2 new, 0 skipped" and lines[-1].startswith(
        "next: in each new file, check the suggested"
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "the file is empty"),
        (b"\xef\xbb\xbf \r\n\n", "the file is empty"),
        (b"Mar 18\n\nCaf\xe9 Title\n", "l.txt:3:4: file is not valid UTF-8"),
    ],
)
def test_an_empty_or_latin_1_source_gets_a_located_error(make_project, content, words):
    project = make_project({})
    (project.root / "l.txt").write_bytes(content)
    with pytest.raises(BuildFailed) as caught:
        import_listing(project.root, project.root / "l.txt", added="2026-03-18")
    assert words in caught.value.errors[0].format()


def test_a_folder_given_as_the_source_is_named_as_a_folder(make_project):
    from generator.errors import UsageError

    project = make_project({})
    with pytest.raises(UsageError, match="is a folder: give the listing or .bib file in it"):
        import_listing(project.root, project.content, added="2026-03-18")


def test_a_greek_letter_and_its_name_are_one_title():
    from generator.duplicates import normalise_title

    assert (
        normalise_title("π-Tuning Revisited")
        == normalise_title("Pi-Tuning Revisited")
        == "pi tuning revisited"
    )
    assert normalise_title("\u0391ttention Is All") == "attention is all"  # a Greek capital passing for an A
    text = f"Mar 19\n\nπ-Tuning Revisited\n\n{ABSTRACT_A}\n\nPi-Tuning Revisited\n\n{ABSTRACT_B}\n"
    listing, errors = parse_listing(text, "l.txt")
    assert errors == [] and len(listing.entries) == 2


def test_a_greek_letter_and_its_name_in_one_listing_are_one_paper(make_project):
    project = make_project({})
    text = f"Mar 19\n\nπ-Tuning Revisited\n\n{ABSTRACT_A}\n\nPi-Tuning Revisited\n\n{ABSTRACT_B}\n"
    write_tree(project.root, {"day.txt": text})
    report = import_listing(project.root, project.root / "day.txt", added="2026-03-19")
    assert report.written == ["content/papers/pi-tuning-revisited.md"]
    assert "is in this file twice (same title): taken from day.txt:3" in report.skipped[0]


def test_a_file_that_is_no_listing_reports_its_first_problems_and_counts_the_rest():
    listing, errors = parse_listing("Mar 18\n\n" + "T\n1\n" * 25_000, "l.txt")  # took minutes when quadratic
    assert listing is None and len(errors) == 51
    assert errors[-1].message == "and 24950 more problems like these after this line"


def test_topics_and_tags_given_for_a_whole_file_replace_the_suggestions(project):
    from generator.errors import UsageError

    with pytest.raises(
        UsageError, match=r"--topic 'nope' is no topic .*; --tag 'Bad Tag': write it as 'bad-tag'"
    ):
        import_listing(
            project.root,
            project.root / "listing.txt",
            added="2026-03-18",
            topics=("nope",),
            tags=("Bad Tag",),
        )
    assert not list((project.content / "papers").glob("*.md"))
    report = import_listing(
        project.root,
        project.root / "listing.txt",
        added="2026-03-18",
        topics=("peft", "peft"),
        tags=("curated",),
    )
    catalogue, _ = load_catalogue(project)
    assert len(report.written) == 2
    assert {(p.topics, p.tags) for p in catalogue.papers} == {  # "peft" is one of that topic's keywords
        (("parameter-efficient-fine-tuning",), ("curated",))
    }
