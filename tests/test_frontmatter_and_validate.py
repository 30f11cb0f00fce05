"""Every validation failure mode gives its exact location and the words that explain it."""

from __future__ import annotations

import pytest

from generator.duplicates import normalise_title
from generator.errors import BuildFailed
from generator.load import RawDocument
from generator.model import Topic
from generator.validate import TopicIndex, validate, validate_document

from .conftest import paper_text

TOPICS = {"fine-tuning", "instruction-tuning", "parameter-efficient-fine-tuning"}
GOOD = """\
---
title: "Good Paper"
authors: ["Ada Lovelace"]
date: "2023-10"
added: "2024-05-01"
arxiv: "2310.06770"
doi: "https://doi.org/10.1000/xyz123"
code: "https://github.com/org/repo"
topics: ["fine-tuning"]
tags: ["lora", "low-rank"]
---

The abstract.
"""


def check(text: str, stem: str = "paper"):
    index = TopicIndex.of(tuple(Topic(t, t, "", ("peft|lora",) if "efficient" in t else ()) for t in TOPICS))
    return validate_document(RawDocument(f"content/papers/{stem}.md", stem, text), index)


def test_good_paper_becomes_a_paper():
    paper, errors = check(GOOD, "good-paper")
    assert errors == []
    assert paper.title == "Good Paper"
    assert paper.authors == ("Ada Lovelace",)
    assert paper.year == 2023 and paper.date == "2023-10"
    assert paper.added.isoformat() == "2024-05-01"
    assert paper.doi == "10.1000/xyz123"  # a doi.org link is stored bare
    assert paper.tags == ("lora", "low-rank")
    assert paper.body_md == "The abstract.\n"


def replace(line_prefix: str, new_line: str) -> str:
    lines = GOOD.split("\n")
    out = [new_line if line.startswith(line_prefix) else line for line in lines]
    assert out != lines, line_prefix
    return "\n".join(out)


# (description, file text, expected line, expected column, words in the message, words in the hint)
CASES = [
    ("title a number", replace("title:", "title: 1984"), 2, 8, "'title' must be a string", "quotes"),
    (
        "missing title",
        replace("title:", 'titel: "Good Paper"'),
        2,
        1,
        "unknown field 'titel'",
        "did you mean 'title'",
    ),
    ("empty title", replace("title:", 'title: ""'), 2, 8, "'title' is empty", ""),
    ("unquoted date", replace("added:", "added: 2024-05-01"), 5, 8, "must be a string", "quotes"),
    (
        "impossible date",
        replace("added:", 'added: "2024-02-30"'),
        5,
        8,
        "not a real calendar date",
        "month and day",
    ),
    ("a list", "---\n- title: x\n---\nThe abstract.\n", 2, 1, "expected a mapping", "one field each"),
    ("bad partial date", replace("date:", 'date: "May 2023"'), 4, 7, "YYYY-MM-DD, YYYY-MM or YYYY", ""),
    ("arxiv float", replace("arxiv:", "arxiv: 2310.06770"), 6, 8, "'arxiv' must be a string", "quotes"),
    ("arxiv nonsense", replace("arxiv:", 'arxiv: "abc"'), 6, 8, "not an arXiv identifier", ""),
    ("http url", replace("code:", 'code: "http://github.com/org/repo"'), 8, 7, "https:// URL", ""),
    ("relative url", replace("code:", 'code: "github.com/org/repo"'), 8, 7, "https:// URL", ""),
    ("bad doi", replace("doi:", 'doi: "doi-123"'), 7, 6, "not a DOI", ""),
    (
        "unknown topic",
        replace("topics:", 'topics: ["fine-tunin"]'),
        9,
        10,
        "unknown topic 'fine-tunin'",
        "did you mean 'fine-tuning'",
    ),
    ("no topics", replace("topics:", "topics: []"), 9, 9, "at least one topic", "topics.yml"),
    ("topics a string", replace("topics:", 'topics: "fine-tuning"'), 9, 9, "must be a list", ""),
    (
        "tag not a slug",
        replace("tags:", 'tags: ["Low Rank"]'),
        10,
        8,
        "tag 'Low Rank' is not a slug",
        "'low-rank'",
    ),
    ("tag boolean", replace("tags:", "tags: [NO, lora]"), 10, 8, "must be a string", ""),
    ("tag c++", replace("tags:", 'tags: ["C++"]'), 10, 8, "tag 'C++' is not a slug", "'c-plus-plus'"),
    ("journal a number", replace("code:", "journal: 2023"), 8, 10, "'journal' must be a string", "quotes"),
    (
        "proceedings with bidi",
        replace("code:", 'proceedings: "ICLR\u202e"'),
        8,
        14,
        "invisible character U+202E",
        "",
    ),
    (
        "journal a preprint server",
        replace("code:", 'journal: "arXiv preprint arXiv:2310.06770"'),
        8,
        10,
        "'arXiv preprint arXiv:2310.06770' is a preprint server, not where the paper was published",
        "leave journal out",
    ),
    (
        "journal and proceedings",
        replace("code:", 'journal: "Nature"\nproceedings: "ICLR 2022"'),
        9,
        14,
        "a paper has 'journal' or 'proceedings', not both",
        "keep the one it was published in",
    ),
    ("tag c#", replace("tags:", 'tags: ["c#"]'), 10, 8, "tag 'c#' is not a slug", "'c-sharp'"),
    ("tag in Japanese", replace("tags:", 'tags: ["日本語"]'), 10, 8, "not a slug", "name it in English"),
    ("tag with accents", replace("tags:", 'tags: ["Réseaux"]'), 10, 8, "not a slug", "'reseaux'"),
    ("duplicate tag", replace("tags:", 'tags: ["lora", "lora"]'), 10, 16, "listed twice", ""),
    (
        "unclosed double quote",
        replace("title:", 'title: "Good Paper'),
        2,
        8,
        "invalid YAML: this double quote is not closed on its line",
        'end the value with ", and write a " inside it as \\"',
    ),
    (
        "unclosed single quote",
        replace("date:", "date: '2023-10"),
        4,
        7,
        "this single quote is not closed on its line",
        "write a ' inside it as ''",
    ),
    (
        "tab indent",
        replace("code:", '\tcode: "https://github.com/org/repo"'),
        8,
        1,
        "a tab character",
        "spaces",
    ),
    (
        "quote closed early",
        replace("title:", 'title: "A "Good" Paper"'),
        2,
        11,
        "the value's double quote closes here, before the value's end",
        'write a " inside a value quoted with " as \\"',
    ),
    (
        "apostrophe in single quotes",
        replace("title:", "title: 'Ada's Paper'"),
        2,
        12,
        "the value's single quote closes here",
        "write a ' inside a value quoted with ' as ''",
    ),
    (
        "last line unclosed",
        replace("tags:", 'tags: ["lora"]\nsource: "listings/x.txt'),
        11,
        9,
        "this double quote is not closed on its line",
        "end the value with",
    ),
    (
        "duplicate key",
        GOOD.replace("code:", 'title: "Again"\ncode:'),
        8,
        1,
        "duplicate field 'title'",
        "keep one",
    ),
    ("bad yaml", replace("authors:", 'authors: ["Ada", '), 5, 1, "flow sequence that starts on line 3", ""),
    ("custom tag", replace("title:", "title: !!python/object:os.system x"), 2, 8, "custom YAML tag", ""),
    (
        "alias",
        replace("tags:", "tags: *t").replace("topics: [", "topics: &t ["),
        10,
        7,
        "alias 't'",
        "in full",
    ),
    (
        "two documents",
        GOOD.replace("code:", "--- # more\ncode:"),
        8,
        1,
        "only one YAML document",
        "extra '---'",
    ),
    ("no front matter", "Just text\n", 1, 1, "does not start with a '---'", ""),
    (
        "topic keyword",
        replace("topics:", 'topics: ["peft"]'),
        9,
        10,
        "unknown topic 'peft'",
        "did you mean 'parameter-efficient-fine-tuning'",
    ),
    ("month 13", replace("date:", 'date: "2025-13"'), 4, 7, "'2025-13' is not a real calendar date", ""),
    (
        "bidi override",
        replace("title:", 'title: "Good \u202ePaper"'),
        2,
        8,
        "invisible character U+202E at character 6",
        "",
    ),
    (
        "three invisible characters",
        replace("title:", 'title: "Good \u202ePa\u202cper\u200b"'),
        2,
        8,
        "'title' contains the invisible character U+202E at character 6, the invisible character"
        " U+202C at character 9 and the invisible character U+200B at character 13",
        "",
    ),
    (
        "raw html",
        GOOD.replace("The abstract.", "The <b>bold</b> abstract."),
        13,
        5,
        "raw HTML is not allowed",
        "&lt;",
    ),
    ("unclosed", '---\ntitle: "x"\n', 1, 1, "never closed", ""),
    (
        "javascript link",
        GOOD.replace("The abstract.", "A [x](JaVaScRiPt:alert(1)) link."),
        13,
        7,
        "link scheme 'javascript:' is not allowed",
        "https://",
    ),
    (
        "entity-hidden scheme",
        GOOD.replace("The abstract.", "A [x](jav&#x09;ascript:alert(1))."),
        13,
        7,
        "link scheme 'javascript:' is not allowed",
        "",
    ),
    (
        "data autolink",
        GOOD.replace("The abstract.", "See <data:text/html,x>."),
        13,
        6,
        "link scheme 'data:' is not allowed",
        "",
    ),
    (
        "reference link",
        GOOD.replace("The abstract.", "See [x].\n\n[x]: vbscript:msgbox"),
        15,
        6,
        "link scheme 'vbscript:' is not allowed",
        "",
    ),
    (
        "relative link",
        GOOD.replace("The abstract.", "See [x](../admin)."),
        13,
        9,
        "link '../admin' is not an absolute URL",
        "",
    ),
    (
        "image",
        GOOD.replace("The abstract.", "An ![img](https://x.org/a.png)."),
        13,
        4,
        "images are not allowed",
        "",
    ),
    ("20000 brackets", GOOD.replace("The abstract.", "[" * 20000), 13, 1, "the limit is 10,000", ""),
    ("500 brackets", GOOD.replace("The abstract.", "[" * 500), 13, 201, "500 '[' characters", ""),
    ("nested lists", GOOD.replace("The abstract.", "- " * 1000 + "x"), 13, 1, "nested 1000 deep", ""),
    ("deep yaml", replace("tags:", "tags: " + "[" * 50 + "]" * 50), 10, 1, "nested too deeply", ""),
    (
        "huge front matter",
        replace("tags:", 'tags: []\nsource: "' + "x" * 20000 + '"'),
        2,
        1,
        "front matter is 20,",
        "",
    ),
    ("tab indentation", GOOD.replace("tags: [", "tags:\n\t- lora\nx: ["), 11, 1, "invalid YAML", ""),
    ("tag path", replace("tags:", 'tags: ["../admin"]'), 10, 8, "tag '../admin' is not a slug", "'admin'"),
]


@pytest.mark.parametrize(
    ("text", "line", "col", "words", "hint"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_failure_is_located(text, line, col, words, hint):
    paper, errors = check(text)
    assert paper is None
    located = [e for e in errors if words in e.message]
    assert located, [e.format() for e in errors]
    error = located[0]
    assert error.path == "content/papers/paper.md"
    assert (error.line, error.col) == (line, col), error.format()
    assert hint in error.hint
    assert error.format().startswith(f"content/papers/paper.md:{line}:{col}: ")


def test_a_field_given_twice_does_not_hide_the_other_fields_errors():
    text = GOOD.replace("code:", 'title: "Again"\n3: x\ncode:').replace(
        'added: "2024-05-01"', "added: 2024-05-01"
    )
    paper, errors = check(text.replace('topics: ["fine-tuning"]', 'topics: ["fine-tunin"]'))
    assert paper is None
    assert [
        (e.line, e.message.split(" (")[0].split(",")[0]) for e in sorted(errors, key=lambda e: e.line)
    ] == [
        (5, "'added' must be a string"),
        (8, "duplicate field 'title'"),
        (9, "field names must be plain words"),
        (11, "unknown topic 'fine-tunin'"),
    ]


def test_raw_html_is_one_error_per_line_at_its_first_tag():
    paper, errors = check(GOOD.replace("The abstract.", "The <b>bold</b> abstract.\n\nA <br> break."))
    assert [(e.line, e.col, e.message) for e in errors] == [
        (13, 5, "raw HTML is not allowed in an abstract (2 tags on this line)"),
        (15, 3, "raw HTML is not allowed in an abstract"),
    ]


def test_missing_required_fields_are_all_reported():
    paper, errors = check("---\nauthors: []\n---\n\nText.\n")
    messages = " | ".join(e.message for e in errors)
    for field in ("title", "added", "topics"):
        assert f"missing required field '{field}'" in messages


def test_bad_file_name_is_reported_with_a_suggestion():
    _, errors = check(GOOD, "Bad_Name")
    assert any("not a valid slug" in e.message and "bad-name.md" in e.hint for e in errors)


def test_crlf_and_bom_are_accepted():
    paper, errors = check("\ufeff" + GOOD.replace("\n", "\r\n"), "good")
    assert errors == [] and paper.title == "Good Paper"


def test_duplicates_across_files_name_the_existing_file():
    docs = [
        RawDocument(f"content/papers/{s}.md", s, paper_text(t, extra=x, added=f'"{day}"'))
        for s, t, x, day in (
            ("a", "Attention Is All You Need", 'arxiv: "1706.03762"', "2024-01-01"),
            ("b", "attention is all you need!", "", "2024-02-01"),
            ("c", "Something Else", 'arxiv: "1706.03762"', "2024-02-01"),
        )
    ]
    papers, errors = validate(docs, tuple(Topic(t, t, "") for t in sorted(TOPICS)))
    assert {e.path for e in errors} == {"content/papers/b.md", "content/papers/c.md"}
    assert all("content/papers/a.md" in e.message and "remove this file" in e.hint for e in errors)
    assert all('add same_as: "a" to it instead' in e.hint for e in errors)  # it is the newer one


@pytest.mark.parametrize("names", [("original", "the-copy"), ("the-copy", "original")])
def test_a_duplicate_added_the_same_day_is_reported_on_both_files(names):
    """A file copied to start another keeps its `added`: either may be the newcomer, whatever
    the names' order, and a pull request's annotations must reach the file it adds."""
    docs = [
        RawDocument(f"content/papers/{s}.md", s, paper_text(t, extra='arxiv: "1706.03762"'))
        for s, t in zip(names, ("Attention Is All You Need", "Something Else"), strict=True)
    ]
    _, errors = validate(docs, tuple(Topic(t, t, "") for t in sorted(TOPICS)))
    assert sorted((e.path, e.line) for e in errors) == [
        ("content/papers/original.md", 7),
        ("content/papers/the-copy.md", 7),
    ]
    by_path = {e.path: e for e in errors}
    assert "same arXiv id as content/papers/the-copy.md" in by_path["content/papers/original.md"].message
    assert "same arXiv id as content/papers/original.md" in by_path["content/papers/the-copy.md"].message
    assert all("both added the same day" in e.message and "remove one of the two" in e.hint for e in errors)
    assert (
        'same_as: "the-copy" to this file if it is the later version'
        in by_path["content/papers/original.md"].hint
    )


def test_same_as_may_not_name_its_own_paper_and_a_near_miss_gets_a_suggestion():
    docs = [
        RawDocument(f"content/papers/{s}.md", s, paper_text(t, extra=f'same_as: "{x}"' if x else ""))
        for s, t, x in (
            ("attention-preprint", "Attention Is All You Need", ""),
            ("self-linked", "Something Else", "self-linked"),
            ("misspelt", "A Third Paper", "attention-preprnt"),
        )
    ]
    _, errors = validate(docs, tuple(Topic(t, t, "") for t in sorted(TOPICS)))
    by_path = {e.path: e for e in errors}
    assert set(by_path) == {"content/papers/self-linked.md", "content/papers/misspelt.md"}
    assert by_path["content/papers/self-linked.md"].message == "same_as names this paper itself"
    assert by_path["content/papers/misspelt.md"].hint == "did you mean 'attention-preprint'?"


def test_normalise_title_folds_case_accents_and_punctuation():
    assert normalise_title("Tülu:  A  Model!") == normalise_title("tulu a model")


def test_every_bad_list_item_is_reported():
    text = replace("tags:", 'tags: ["Bad One", on, "ok", "Bad Two", null]')
    paper, errors = check(text)
    assert paper is None
    assert [(e.line, e.col, e.message) for e in errors] == [
        (10, 19, "'tags item' must be a string, but YAML reads a yes/no value here"),
        (10, 40, "'tags item' must be a string, but YAML reads an empty value here"),
        (10, 8, "tag 'Bad One' is not a slug"),
        (10, 29, "tag 'Bad Two' is not a slug"),
    ]
    assert errors[0].hint == 'quote it: tags: ["on"]'


def test_nested_lists_are_rejected_before_markdown_recurses():
    paper, errors = check(GOOD.replace("The abstract.", "".join("  " * i + "- x\n" for i in range(60))))
    assert paper is None
    assert [(e.line, e.message) for e in errors] == [(29, "lists or quotes nested 9 deep; the limit is 8")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Plain <b>bold</b> words.", "raw HTML is not allowed in an abstract (2 tags on this line)"),
        ("An image ![x](https://x.org/a.png) here.", "images are not allowed in an abstract"),
        ("A lone ![ here.", "images are not allowed in an abstract"),
        ("A stray bracket](javascript:alert(1)) here.", "link scheme 'javascript:' is not allowed"),
        ("Notes.\n\n[ref]: ../admin", "link '../admin' is not an absolute URL"),
        ("Code `<b>` then <i>x</i>.", "raw HTML is not allowed in an abstract (2 tags on this line)"),
    ],
)
def test_each_body_problem_is_found_whichever_character_starts_it(body, message):
    paper, errors = check(GOOD.replace("The abstract.", body))
    assert paper is None and [e.message for e in errors] == [message]


def test_brackets_escaped_to_show_as_typed_make_no_link_and_pass():
    """`new` escapes the brackets of a plain-text abstract so that they show as typed: no link
    comes of them, so their text after '](' is not judged as one. An escaped backslash
    before a bracket leaves the bracket a link's."""
    from generator.markup import make_converter, render_markdown

    typed = "See \\[a link\\](javascript:alert(2)) as typed."
    paper, errors = check(GOOD.replace("The abstract.", typed))
    assert errors == [] and paper is not None
    assert "<a" not in render_markdown(make_converter(), paper.body_md)
    real = "A [link\\\\](javascript:alert(2)) after an escaped backslash."
    paper, errors = check(GOOD.replace("The abstract.", real))
    assert paper is None and [e.message for e in errors] == ["link scheme 'javascript:' is not allowed"]


def test_allowed_links_pass():
    text = GOOD.replace("The abstract.", "See [a](https://x.org), <http://y.org>, [m](mailto:a@b.org).")
    paper, errors = check(text)
    assert errors == [] and paper is not None


@pytest.mark.parametrize(
    ("body", "short"),
    [
        ("word " * 39 + "abcd", True),  # 199 characters
        ("word " * 39 + "abcde", False),  # 200
        ("  \n\n".join(["word"] * 39) + "  abcd" + " " * 500, True),  # long only by its spaces
        ("w" + " " * 398 + "x " + "y" * 300, False),  # the first 400 characters are mostly spaces
        ("w" + " " * 398 + "x " + "y" * 195, True),
    ],
)
def test_the_short_abstract_warning_counts_collapsed_whitespace(body, short):
    import datetime as dt

    from generator.check import content_warnings
    from generator.model import Paper

    paper = Paper(
        "a", "A Title", ("Ada",), dt.date(2024, 1, 1), ("fine-tuning",), (), body, "a.md", date="2024"
    )
    messages = [w.message for w in content_warnings([paper], today=dt.date(2025, 1, 1))]
    expected = f"abstract is only {len(' '.join(body.split()))} characters"
    assert (expected in messages) is short


def test_bad_utf8_is_located_by_line_and_column_and_the_other_files_still_load(tmp_path):
    from generator.load import load_documents

    papers = tmp_path / "content" / "papers"
    papers.mkdir(parents=True)
    (papers / "a-good.md").write_text(paper_text("Fine"), encoding="utf-8")
    (papers / "b-bad.md").write_bytes('---\ntitle: "Ünïcode \xff"\n'.encode().replace(b"\xc3\xbf", b"\xff"))
    (papers / "c-bad.md").write_bytes(b"\xe2\x82")  # a character cut short at the very start
    docs, errors = load_documents(papers, tmp_path)
    assert [d.stem for d in docs] == ["a-good"]
    # the column counts characters (Ü and ï are two bytes each): \xff is the 17th
    assert [e.location() for e in errors] == ["content/papers/b-bad.md:2:17", "content/papers/c-bad.md:1:1"]
    assert all("not valid UTF-8" in e.message and e.hint == "save the file as UTF-8" for e in errors)


def test_warnings_kept_from_build_to_build_are_those_found_afresh():
    import dataclasses
    import datetime as dt

    from generator.check import content_warnings
    from generator.model import Paper

    def paper(slug, body, added=dt.date(2024, 1, 1), date=None, tags=("shared",)):
        made = Paper(
            slug, f"Title {slug}", ("Ada",), added, ("fine-tuning",), tags, body, f"{slug}.md", date=date
        )
        return dataclasses.replace(made, digest=f"digest of {slug} {body} {added} {date} {tags}")

    long = "word " * 50
    papers = [paper("a", "short"), paper("b", long, date="2024"), paper("c", long, added=dt.date(2025, 6, 1))]
    kept: dict = {}
    for today in (dt.date(2025, 1, 1), dt.date(2025, 1, 1), dt.date(2025, 7, 1)):  # 'c' is no longer ahead
        assert content_warnings(papers, today=today, kept=kept) == content_warnings(papers, today=today)
    papers = [
        paper("a", long, date="2024"),
        papers[1],
        paper("c", "1999. was a year", tags=("lone", "shared")),
    ]
    assert content_warnings(papers, today=today, kept=kept) == content_warnings(papers, today=today)
    assert len(kept) == 3  # only this build's papers


def test_a_quoted_value_that_goes_on_over_indented_lines_is_not_taken_for_a_missing_quote():
    text = replace("title:", 'title: "Good\n  Paper"').replace('tags: ["lora", "low-rank"]', 'tags: ["lora"')
    _, errors = check(text)
    (error,) = errors
    assert "quote is not closed" not in error.message and "invalid YAML" in error.message
    paper, errors = check(replace("title:", 'title: "Good\n  Paper"'))
    assert errors == [] and paper.title == "Good Paper"


def test_a_journal_s_spaces_collapse_an_empty_one_is_an_error_and_a_null_one_none():
    paper, errors = check(replace("code:", 'journal: "  Nature\n  Machine   Intelligence "'))
    assert errors == [] and paper.journal == "Nature Machine Intelligence"
    _, errors = check(replace("code:", 'proceedings: "  "'))
    assert [(e.message, e.hint) for e in errors] == [
        ("'proceedings' is empty", "give its name, or leave proceedings out")
    ]
    paper, errors = check(replace("code:", "journal:"))
    assert errors == [] and paper.journal is None


@pytest.mark.parametrize(
    ("name", "preprint"),
    [
        ("arXiv preprint arXiv:2106.09685", True),
        ("CoRR", True),
        ("bioRxiv", True),
        ("ChemRxiv", True),
        ("Computing Research Repository", True),
        ("Preprints of the IFAC World Congress", False),
        ("Proceedings of the Workshop on Scholarly Document Processing (arXiv track)", False),
        ("Corrosion Science", False),
    ],
)
def test_only_a_name_that_starts_with_a_preprint_server_is_one(name, preprint):
    _, errors = check(replace("code:", f'journal: "{name}"'))
    assert bool(errors) == preprint, errors


@pytest.mark.parametrize("authors", ['["{}", "Ada Lovelace"]', '["Ada Lovelace", "{ }"]', '["  "]'])
def test_an_empty_author_or_organisation_is_an_error(make_project, authors):
    from generator.build import load_catalogue

    project = make_project(
        {
            "a": paper_text("A Paper").replace(
                'authors: ["Ada Lovelace", "Alan Turing"]', f"authors: {authors}"
            )
        }
    )
    with pytest.raises(BuildFailed) as caught:
        load_catalogue(project)
    (error,) = caught.value.errors
    assert (error.line, error.message) == (3, "empty item in 'authors'")
