"""Citation keys and BibTeX entries, checked by parsing the output back with bibtexparser."""

from __future__ import annotations

import datetime as dt
import random
import re

import bibtexparser
import pytest
from bibtexparser import middlewares
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from generator import cite
from generator.build import Project, load_catalogue
from generator.cite import bibliography, bibtex_entry, citation_keys
from generator.model import Paper
from tests.conftest import SEED

# pylatexenc, extended with LaTeX-kernel text symbols it lacks (or renders as look-alikes).
_CONTEXT = get_default_latex_context_db()
_CONTEXT.add_context_category(
    "latex-kernel-text-symbols",
    prepend=True,
    macros=[
        MacroTextSpec("textbraceleft", "{"),
        MacroTextSpec("textbraceright", "}"),
        MacroTextSpec("textasciicircum", "^"),
        MacroTextSpec("textasciitilde", "~"),
    ],
)
LATEX = LatexNodes2Text(latex_context=_CONTEXT, math_mode="verbatim")

HOSTILE_TITLES = [
    "}{@misc{evil, title={x}",
    "100% of $x_i$ & more \\ here",
    "Braces { never closed",
    "Closing } first and \\} then \\{",
    "Tilde ~ and caret ^ and hash # and under_score",
    "Line\n@misc{evil, title={x}} starts an entry",
    "} and others, title = {x}, author = {y",
    "%",
    "\\",
    "Ends with a backslash \\",
]


def make_paper(slug="a-paper", title="A Paper About Things", authors=("Ada Lovelace",), **fields) -> Paper:
    """A Paper built directly; keyword arguments set the optional fields."""
    fields.setdefault("added", dt.date(2024, 5, 1))
    return Paper(
        slug=slug,
        title=title,
        authors=tuple(authors),
        topics=("fine-tuning",),
        tags=(),
        body_md="An abstract.",
        path=f"content/papers/{slug}.md",
        **fields,
    )


def parse(text: str) -> list:
    """All entries of a BibTeX text; fails the test on any block bibtexparser cannot read."""
    library = bibtexparser.parse_string(
        text, append_middleware=[middlewares.SeparateCoAuthors(), middlewares.SplitNameParts()]
    )
    assert not library.failed_blocks, [(b.error, b.raw) for b in library.failed_blocks]
    assert len(library.blocks) == len(library.entries)  # no stray comments, strings or preambles
    return library.entries


def parse_one(text: str):
    """The only entry of a BibTeX text."""
    entries = parse(text)
    assert len(entries) == 1, [e.key for e in entries]
    return entries[0]


def entry_of(paper: Paper, key: str = "k-2024-paper"):
    """A paper's entry, parsed back."""
    return parse_one(bibtex_entry(paper, key))


def title_of(entry) -> str:
    """The entry's title as LaTeX would print it (protection braces gone)."""
    return LATEX.latex_to_text(entry["title"])


def names_of(entry) -> list[str]:
    """The entry's authors, each as "First von Last Jr" in plain text."""
    if "author" not in entry.fields_dict:
        return []
    return [
        " ".join(LATEX.latex_to_text(w) for w in (*n.first, *n.von, *n.last, *n.jr)) for n in entry["author"]
    ]


def same_text(text: str) -> str:
    """Text with whitespace runs as single spaces: BibTeX does not distinguish them."""
    return " ".join(text.split())


def sentence_case(raw: str) -> str:
    """What a BibTeX style's `change.case$ "t"` does: lowercase all but the first character outside braces."""
    out, depth = [], 0
    for i, m in enumerate(re.finditer(r"\\[A-Za-z]+|\\.|.", raw, re.S)):
        token = m.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        elif depth == 0 and i > 0 and not token.startswith("\\"):
            token = token.lower()
        out.append(token)
    return "".join(out)


# --- keys ----------------------------------------------------------------------------------------


def test_key_is_lastname_year_first_non_stopword():
    papers = [
        make_paper("p1", "LoRA: Low-Rank Adaptation", ("Edward J. Hu", "Yelong Shen"), date="2021-06"),
        make_paper("p2", "On the Impact of Fine-Tuning", ("Ada Lovelace",), date="2023"),
        make_paper("p3", "Towards Probing Contact Centers", ("Alan Turing",), date="2022-01-02"),
        make_paper("p4", "How Far Can Camels Go?", ("Yizhong Wang",), date="2023-06"),
        make_paper("p5", "The A of the An", ("Grace Hopper",), date="2020"),
    ]
    keys = citation_keys(papers)
    assert keys["p1"] == "hu-2021-lora"
    assert keys["p2"] == "lovelace-2023-impact"
    assert keys["p3"] == "turing-2022-probing"
    assert keys["p4"] == "wang-2023-far"
    # only stopwords: the first word is the best there is
    assert keys["p5"] == "hopper-2020-the"


def test_key_folds_accents_and_strips_punctuation_to_ascii():
    papers = [
        make_paper("p1", "Über-Tülu: Größer", ("Thomas Müller",), date="2024"),
        make_paper("p2", "Don't Stop Pretraining", ("Seán O'Brien",), date="2020"),
        make_paper("p3", "Attention Is All You Need", ("Łukasz Kaiser-Żółw",), date="2017"),
        make_paper("p4", "大模型 Study", ("张伟",), date="2024"),
    ]
    keys = citation_keys(papers)
    assert keys["p1"] == "muller-2024-ubertulu"
    assert keys["p2"] == "obrien-2020-dont"
    assert keys["p3"] == "kaiserzolw-2017-attention"
    assert re.fullmatch(r"zhang[a-z]*-2024-[a-z0-9]+", keys["p4"])  # transliterated, not dropped
    assert all(re.fullmatch(r"[a-z0-9]+-(\d{4}|nd)-[a-z0-9]+", k) for k in keys.values())


@pytest.mark.parametrize(
    ("name", "surname"),
    [
        ("Plato", "plato"),
        ("Ludwig van Beethoven", "beethoven"),
        ("Jean de La Fontaine", "fontaine"),
        ("Martin Luther King Jr.", "king"),
        ("Martin Luther King, Jr.", "king"),
        ("Henry Ford II", "ford"),
        ("John Smith Sr", "smith"),
        ("Lovelace, Ada", "lovelace"),
        ("van Beethoven, Ludwig", "beethoven"),
        ("King, Jr., Martin Luther", "king"),
        ("  Ada   Lovelace  ", "lovelace"),
    ],
)
def test_key_uses_the_last_word_of_the_surname_that_is_not_a_suffix(name, surname):
    keys = citation_keys([make_paper("p", "Results", (name, "Someone Else"), date="2020")])
    assert keys["p"] == f"{surname}-2020-results"


def test_key_without_year_is_nd_and_without_authors_is_anon():
    keys = citation_keys(
        [
            make_paper("undated", "Analytical Engines", ("Ada Lovelace",)),
            make_paper("nobody", "Analytical Engines", (), date="1843"),
            make_paper("blank", "Analytical Engines", ("", "  ")),
        ]
    )
    assert keys["undated"] == "lovelace-nd-analytical"
    assert keys["nobody"] == "anon-1843-analytical"
    assert keys["blank"] == "anon-nd-analytical"


def test_colliding_keys_same_day_are_numbered_in_slug_order_whatever_the_input_order():
    papers = [
        make_paper("c-third", "LoRA Strikes Back", ("Yi X",), date="2021-12"),
        make_paper("a-first", "LoRA: Low-Rank Adaptation", ("Wei X",), date="2021-01"),
        make_paper("b-second", "Lora for Everyone", ("Ann X",), date="2021"),
        make_paper("other", "LoRA Elsewhere", ("Ann X",), date="2022"),
    ]
    expected = {
        "a-first": "x-2021-lora",
        "b-second": "x-2021-lora-2",
        "c-third": "x-2021-lora-3",
        "other": "x-2022-lora",
    }
    rng = random.Random(1234)
    for _ in range(10):
        shuffled = papers[:]
        rng.shuffle(shuffled)
        keys = citation_keys(shuffled)
        assert keys == expected
        assert list(keys) == [p.slug for p in shuffled]  # one key per paper, in input order


def test_keys_are_unique_even_with_many_collisions():
    papers = [make_paper(f"p{i:03d}", "Same Title", ("Same Author",), date="2020") for i in range(120)]
    papers += [make_paper(f"q{i:03d}", "Same Title", ()) for i in range(30)]
    keys = citation_keys(reversed(papers))  # any iterable
    assert len(keys) == len(papers)
    assert len(set(keys.values())) == len(papers)
    assert keys["p000"] == "author-2020-same" and keys["p119"] == "author-2020-same-120"


# --- entries -------------------------------------------------------------------------------------


def test_entry_fields_round_trip_in_order():
    paper = make_paper(
        "lora",
        "LoRA: Low-Rank Adaptation of Large Language Models",
        ("Edward J. Hu", "Yelong Shen", "Phillip Wallis"),
        date="2021-06-17",
        arxiv="2106.09685",
        doi="10.48550/arXiv.2106.09685",
        url="https://openreview.net/forum?id=nZeVKeeFYf9",
    )
    text = bibtex_entry(paper, "hu-2021-lora")
    entry = parse_one(text)
    assert entry.key == "hu-2021-lora"
    assert entry.entry_type == "misc"  # a DOI but no journal: a preprint (arXiv gives DOIs too)
    assert [f.key for f in entry.fields] == [
        "title",
        "author",
        "year",
        "month",
        "doi",
        "url",
        "eprint",
        "archivePrefix",
    ]
    assert title_of(entry) == paper.title
    assert names_of(entry) == list(paper.authors)
    assert entry["year"] == "2021"
    assert entry["month"] == "jun"
    assert re.search(r"^\s*month = jun,$", text, re.M)  # the macro, not a braced string
    assert entry["doi"] == paper.doi
    assert entry["url"] == paper.url
    assert entry["eprint"] == paper.arxiv
    assert entry["archivePrefix"] == "arXiv"
    assert text.endswith("}\n")


@pytest.mark.parametrize(
    ("where", "kind", "field"),
    [
        ({"journal": "Transactions on Machine Learning Research"}, "article", "journal"),
        ({"journal": "Proceedings of the National Academy of Sciences"}, "article", "journal"),
        (
            {"proceedings": "Advances in Neural Information Processing Systems 34"},
            "inproceedings",
            "booktitle",
        ),
        ({"proceedings": "ICLR 2022", "doi": "10.1/x"}, "inproceedings", "booktitle"),
    ],
)
def test_a_journal_makes_an_article_and_proceedings_an_inproceedings(where, kind, field):
    entry = entry_of(make_paper("x", "Some Paper", date="2023", **where))
    assert entry.entry_type == kind
    assert [f.key for f in entry.fields][:4] == ["title", "author", field, "year"]
    assert entry[field] == (where.get("journal") or where.get("proceedings"))


def test_a_venue_is_escaped_and_cannot_break_the_entry():
    venue = "Science & Society {50%} \\\\ } title = {x"
    text = bibtex_entry(make_paper("x", "Some Paper", journal=venue), "k")
    (entry,) = parse(text)
    assert [f.key for f in entry.fields] == ["title", "author", "journal"]
    assert LATEX.latex_to_text(entry["journal"]) == venue  # as LaTeX prints it


def test_arxiv_only_is_misc_with_an_arxiv_url():
    paper = make_paper("x", "Some Preprint", ("Ada Lovelace",), date="2023-11", arxiv="2311.01234v2")
    entry = entry_of(paper)
    assert entry.entry_type == "misc"
    assert entry["url"] == "https://arxiv.org/abs/2311.01234v2"
    assert entry["eprint"] == "2311.01234v2"
    assert entry["month"] == "nov"
    assert "doi" not in entry.fields_dict and "primaryClass" not in entry.fields_dict


def test_paper_with_nothing_is_a_short_misc():
    entry = entry_of(make_paper("x", "Just a Title", ()))
    assert entry.entry_type == "misc"
    assert [f.key for f in entry.fields] == ["title"]
    assert title_of(entry) == "Just a Title"


@pytest.mark.parametrize(("date", "month"), [("2020", None), ("2020-01", "jan"), ("2020-12-31", "dec")])
def test_month_only_when_the_date_has_one(date, month):
    entry = entry_of(make_paper(date=date))
    assert entry["year"] == "2020"
    assert (entry["month"] if "month" in entry.fields_dict else None) == month


def test_no_abstract_or_note():
    entry = entry_of(make_paper(date="2020", doi="10.1/x", arxiv="2001.00001", pdf="https://x.org/p.pdf"))
    assert {f.key.lower() for f in entry.fields} <= {
        "title",
        "author",
        "year",
        "month",
        "doi",
        "url",
        "eprint",
        "archiveprefix",
    }


# --- titles --------------------------------------------------------------------------------------


def test_capitals_that_matter_are_protected_from_case_changes():
    title = "LoRA: Low-Rank Adaptation of GPT-4 and BERT with T5 on an iPhone for Q-Learning (RAG) in Tülu"
    entry = entry_of(make_paper(title=title))
    assert "{LoRA}" in entry["title"] and "{GPT-4}" in entry["title"] and "{BERT}" in entry["title"]
    assert title_of(entry) == title
    shown = LATEX.latex_to_text(sentence_case(entry["title"])).replace(":", "").split()
    for word in ("LoRA", "GPT-4", "BERT", "T5", "iPhone", "Q-Learning", "(RAG)"):
        assert word in shown, (word, shown)
    for word in ("low-rank", "adaptation", "tülu"):  # ordinary words are left to the style
        assert word in shown, (word, shown)


def test_first_word_is_protected_only_when_it_needs_it():
    plain = entry_of(make_paper(title="Efficient Fine-tuning of BERT"))
    assert plain["title"].startswith("Efficient ")
    assert LATEX.latex_to_text(sentence_case(plain["title"])) == "Efficient fine-tuning of BERT"
    acronym = entry_of(make_paper(title="BERT Rediscovers the Classical NLP Pipeline"))
    assert acronym["title"].startswith("{BERT}")
    assert (
        LATEX.latex_to_text(sentence_case(acronym["title"])) == "BERT rediscovers the classical NLP pipeline"
    )


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_titles_stay_one_balanced_entry(title):
    text = bibtex_entry(make_paper(title=title, date="2020", arxiv="2001.00001"), "k-2020-x")
    entry = parse_one(text)
    assert entry.key == "k-2020-x"
    assert title_of(entry) == same_text(title)
    assert entry["eprint"] == "2001.00001"  # fields after the title survive
    # balanced for classic BibTeX too, which counts \{ and \} like any brace
    assert text.count("{") == text.count("}")
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    # no unescaped LaTeX specials in the title (a bare % would comment out the rest of the line)
    # but in formulas, written as TeX: letters, operators and harmless commands only
    formulas = re.findall(r"\{\$([^$]*)\$\}", entry["title"])
    assert all(cite._plain_formula(f) for f in formulas)
    assert not re.search(r"(?<!\\)[%&$#_]", re.sub(r"\{\$[^$]*\$\}", "", entry["title"]))
    assert not re.search(r"^@", text[1:], re.M)


def test_hostile_bibliography_parses_to_one_entry_per_paper():
    papers = [make_paper(f"p{i}", t, (t,)) for i, t in enumerate(HOSTILE_TITLES)]
    keys = citation_keys(papers)
    entries = parse(bibliography(papers, keys))
    assert [e.key for e in entries] == [keys[p.slug] for p in papers]
    assert [title_of(e) for e in entries] == [same_text(p.title) for p in papers]


def test_hostile_urls_and_dois_cannot_break_the_entry():
    paper = make_paper(url="https://example.org/a}b{c\\d?q=%20#x_y", doi="10.1000/x}y{z_1%")
    entry = entry_of(paper)
    assert entry["url"].startswith("https://example.org/a") and entry["url"].endswith("?q=%20#x_y")
    assert entry["doi"].startswith("10.1000/x") and entry["doi"].endswith("z_1%")
    assert not set("{}\\") & set(entry["url"] + entry["doi"])


def test_unusable_key_is_refused():
    with pytest.raises(ValueError):
        bibtex_entry(make_paper(), "bad key}")


# --- authors -------------------------------------------------------------------------------------


def test_authors_in_order_with_names_split_the_bibtex_way():
    authors = (
        "Plato",
        "Ludwig van Beethoven",
        "Jean de La Fontaine",
        "Martin Luther King Jr.",
        "Thomas Müller",
        "Zoë Ångström-Tülu",
        "Edward J. Hu",
    )
    text = bibtex_entry(make_paper(authors=authors), "k")
    entry = parse_one(text)
    assert names_of(entry) == list(authors)
    plato, beethoven, fontaine, king, muller, _, hu = entry["author"]
    assert (plato.first, plato.last) == ([], ["Plato"])
    assert (beethoven.first, beethoven.von, beethoven.last) == (["Ludwig"], ["van"], ["Beethoven"])
    assert fontaine.first == ["Jean"] and fontaine.last[-1] == "Fontaine"
    assert (king.first, king.last, king.jr) == (["Martin", "Luther"], ["King"], ["Jr."])
    assert (muller.first, muller.last) == (["Thomas"], ['M{\\"u}ller'])  # one character to BibTeX
    assert (hu.first, hu.last) == (["Edward", "J."], ["Hu"])
    assert 'M{\\"u}ller' in text and "Ångström" not in text  # a LaTeX accent: classic BibTeX reads bytes


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Lovelace, Ada", "Ada Lovelace"),
        ("van Beethoven, Ludwig", "Ludwig van Beethoven"),
        ("Martin Luther King, Jr.", "Martin Luther King Jr."),
        ("King, Jr., Martin Luther", "Martin Luther King Jr."),
    ],
)
def test_authors_given_surname_first(name, shown):
    entry = entry_of(make_paper(authors=(name, "Alan Turing")))
    assert names_of(entry) == [shown, "Alan Turing"]


@pytest.mark.parametrize(
    "name",
    [
        "Foo and Bar",
        "AND",
        "others",
        "Sammy Jr.",
        "A, B, C, D",
        "Trailing,",
        "}",
        "{Brace",
        "50% & $5 #1 a_b ~x^y \\",
        "Line\n@misc{evil,",
    ],
)
def test_hostile_author_names_stay_one_author(name):
    entry = entry_of(make_paper(authors=("Ada Lovelace", name, "Alan Turing")))
    names = names_of(entry)
    assert len(names) == 3
    assert names[0] == "Ada Lovelace" and names[2] == "Alan Turing"
    assert names[1] == same_text(name)


# --- bibliography --------------------------------------------------------------------------------


def test_bibliography_in_the_given_order_separated_by_blank_lines():
    papers = [
        make_paper("newest", "Zebra Models", ("Zed Z",), date="2024"),
        make_paper("older", "Aardvark Models", ("Aaron A",), date="2020"),
    ]
    keys = citation_keys(papers)
    text = bibliography(papers, keys)
    assert text.endswith("}\n") and not text.endswith("\n\n")
    blocks = text.split("\n\n")
    assert len(blocks) == 2
    assert [parse_one(b).key for b in blocks] == [keys["newest"], keys["older"]]
    assert text == bibliography(papers, citation_keys(list(reversed(papers))))  # deterministic
    assert bibliography([], {}) == ""


def test_committed_catalogue_round_trips():
    catalogue, _ = load_catalogue(Project.at(SEED))
    papers = catalogue.papers
    assert papers
    keys = citation_keys(papers)
    assert set(keys) == {p.slug for p in papers}
    assert len(set(keys.values())) == len(papers)
    assert all(re.fullmatch(r"[a-z0-9]+-(\d{4}|nd)-[a-z0-9]+(-\d+)?", k) for k in keys.values())
    text = bibliography(papers, keys)
    entries = parse(text)
    assert [e.key for e in entries] == [keys[p.slug] for p in papers]
    for paper, entry in zip(papers, entries, strict=True):
        assert title_of(entry) == same_text(paper.title), paper.slug
        assert len(names_of(entry)) == len([a for a in paper.authors if a.strip()]), paper.slug
        assert entry.fields_dict.get("year") is None or entry["year"] == str(paper.year)
        assert entry.entry_type == ("article" if paper.doi else "misc")
        if paper.doi:
            assert entry["doi"] == paper.doi
        if paper.arxiv:
            assert entry["eprint"] == paper.arxiv
    assert citation_keys(reversed(papers)) == keys


def test_adding_a_paper_never_changes_an_existing_key():
    old = [
        make_paper(
            slug=f"evaluating-{name}",
            title=f"Evaluating {name.title()}",
            authors=(),
            added=dt.date(2024, 1, 1),
        )
        for name in ("correctness", "robustness", "zebras")
    ]
    before = citation_keys(old)
    newcomer = make_paper(
        slug="evaluating-aardvarks", title="Evaluating Aardvarks", authors=(), added=dt.date(2024, 6, 1)
    )
    after = citation_keys([newcomer, *old])
    assert {slug: after[slug] for slug in before} == before
    assert after["evaluating-aardvarks"] == "anon-nd-evaluating-4"


def test_accented_latin_letters_are_latex_accents_that_classic_bibtex_reads_as_one_character():
    authors = ("Åse Sørensen", "Ömer Çelik", "Paweł Łukasz", "Íñigo Weiß", "张三")
    text = bibtex_entry(make_paper(title="Über Ångström-Tülu: 日本語 models", authors=authors), "k")
    assert text.encode("utf-8").count(b"\xc3") == 0  # no Latin letter as UTF-8 bytes
    assert "S{\\o}rensen, {\\r{A}}se" in text and '{\\c{C}}elik, {\\"O}mer' in text
    assert "{\\'I}{\\~n}igo" in text and "张三" in text  # no LaTeX name: kept
    entry = parse_one(text)
    assert names_of(entry) == list(authors)  # what LaTeX prints: the same names
    assert title_of(entry) == "Über Ångström-Tülu: 日本語 models"
    for name in entry["author"]:  # each braced accent is one of BibTeX's "special characters"
        for part in (*name.first, *name.last):
            assert part.count("{") == part.count("}")


def test_single_capital_letters_keep_their_case_but_a_leading_article_does_not_need_to():
    title = bibtex_entry(make_paper(title="A Study of C# and R with K Shots"), "k").split("\n")[1]
    assert title == "  title = {A Study of {C}\\# and {R} with {K} Shots},"


def test_an_organisation_in_braces_is_one_name_everywhere(make_project):
    import json

    from generator.build import build, load_catalogue

    from .conftest import paper_text

    project = make_project(
        {
            "gemini": paper_text(
                "Gemini: A Family of Highly Capable Multimodal Models",
                extra='date: "2023-12"',
            ).replace(
                'authors: ["Ada Lovelace", "Alan Turing"]', 'authors: ["{Google DeepMind}", "Ada Lovelace"]'
            )
        }
    )
    catalogue, _ = load_catalogue(project)
    (paper,) = catalogue.papers
    assert paper.authors == ("Google DeepMind", "Ada Lovelace") and paper.organisations == (
        "Google DeepMind",
    )
    build(project)
    page = (project.output / "papers/gemini/index.html").read_text()
    assert '<p class="authors">Google DeepMind, Ada Lovelace</p>' in page
    ld = json.loads(page.split('<script type="application/ld+json">')[1].split("</script>")[0])
    assert [(a["@type"], a["name"]) for a in ld["author"]] == [
        ("Organization", "Google DeepMind"),
        ("Person", "Ada Lovelace"),
    ]
    entry = (project.output / "papers/gemini.bib").read_text()
    assert entry.startswith("@misc{google-2023-gemini,")
    parsed = parse_one(entry)
    assert names_of(parsed) == ["Google DeepMind", "Ada Lovelace"]
    assert parsed["author"][0].first == [] and parsed["author"][0].last == ["{Google DeepMind}"]


@pytest.mark.parametrize(
    ("title", "written"),
    [
        ("$\\alpha$-Scaling Laws", "{$\\alpha$}-Scaling Laws"),
        ("An $\\mathcal{O}(n \\log n)$ Attention", "An {$\\mathcal{O}(n \\log n)$} Attention"),
        ("kNN with $k$ Neighbours", "{kNN} with {$k$} Neighbours"),
        ("Cost $5 and $10", "Cost \\$5 and \\$10"),  # dollars, not a formula
        (
            "Evil $\\input{/etc/passwd}$",
            "Evil \\$\\textbackslash{}input\\textbraceleft{}/etc/passwd\\textbraceright{}\\$",
        ),
        (
            "Evil $\\def\\x{y}$",
            "Evil \\$\\textbackslash{}def\\textbackslash{}x\\textbraceleft{}y\\textbraceright{}\\$",
        ),
        ("Evil $^^5cinput x$", "Evil \\$\\textasciicircum{}\\textasciicircum{}{5cinput} x\\$"),
        ("Evil $a}$ b", "Evil \\$a\\textbraceright{}\\$ b"),  # would close the field early
        ("$x_{i}^{2}$ and $\\hat{y}$", "{$x_{i}^{2}$} and {$\\hat{y}$}"),
        ("Bad $a^b^c$", "Bad \\$a\\textasciicircum{}b\\textasciicircum{}c\\$"),  # a double superscript
        ("Bad $x_$", "Bad \\$x\\_\\$"),
        ("Bad $\\frac$", "Bad \\$\\textbackslash{}frac\\$"),  # no argument: LaTeX would stop
        ("Bad $\\hat$", "Bad \\$\\textbackslash{}hat\\$"),
        ("Deep ${{{{x}}}}$", "Deep \\$" + "\\textbraceleft{}" * 4 + "x" + "\\textbraceright{}" * 4 + "\\$"),
    ],
)
def test_a_formula_in_a_title_is_written_as_tex_and_anything_else_as_text(title, written):
    entry = bibtex_entry(make_paper(title=title), "k")
    assert entry.split("\n")[1] == f"  title = {{{written}}},"
    assert len(parse(entry)) == 1


def test_a_caret_in_a_url_or_doi_cannot_spell_a_tex_command():
    """Where no url package is loaded, natbib's styles print a url with \\texttt, and TeX reads
    ^^5c as a backslash: a url could \\input a file into the citing paper's PDF."""
    paper = make_paper(url="https://example.org/^^5cinput^^7b/etc/passwd^^7d", doi="10.1234/^^5cx")
    entry = bibtex_entry(paper, "k")
    assert "^" not in entry
    assert "url = {https://example.org/%5E%5E5cinput%5E%5E7b/etc/passwd%5E%5E7d}" in entry
    assert "doi = {10.1234/%5E%5E5cx}" in entry


def test_letters_pylatexenc_has_no_name_for_are_stacked_accents_and_other_scripts_stay():
    text = bibtex_entry(make_paper(authors=("Nguyễn Văn Ẩn", "李四")), "k")
    assert "Nguy{\\~{\\^{e}}}n" in text and "李四" in text
    assert names_of(parse_one(text)) == ["Nguyễn Văn Ẩn", "李四"]
