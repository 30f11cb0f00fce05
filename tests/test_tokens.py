"""What related papers count of each paper (generator/tokens.py): the batched, numpy tokeniser
against the definition written out word by word, on the catalogue, synthetic papers and
generated text; and rows reused from a previous build."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import tokens
from generator.build import Project, load_catalogue
from generator.tokens import BOUND, TITLE_WEIGHT, Stems, fold, markdown_text

from .conftest import REPO
from .test_related import paper, synthetic, tie_papers

JOINERS = frozenset(" \t\n-*_`'\u2010\u2011\u2012\u2013")  # may separate a bigram's words
ENDS = frozenset(".!?:;")


def words_of(text: str) -> list[tuple[str, str]]:
    """(gap before, word) pairs: words are runs of ASCII letters and digits."""
    pairs, gap, word = [], "", ""
    for char in text:
        if char.isascii() and char.isalnum():
            word += char
        else:
            if word:
                pairs.append((gap, word))
                gap, word = "", ""
            gap += char
    return [*pairs, (gap, word)] if word else pairs


def reference_text(text: str, kind: str, stems: Stems) -> tuple[list[str], Counter, Counter]:
    """Features, surfaces and spellings of one text, word by word. kind: title, prose or tag."""
    pairs = words_of(fold(text))
    features: list[str] = []
    surfaces: Counter[str] = Counter()
    spellings: Counter[str] = Counter()
    for i, (gap, word) in enumerate(pairs):
        lower = word.lower()
        key = stems[lower]
        if not key:
            continue
        surfaces[lower] += 1
        if key not in BOUND:
            features.append(key)
        previous = stems[pairs[i - 1][1].lower()] if i else ""
        hyphen = [0 < j < len(pairs) and pairs[j][0] == "-" for j in (i - 1, i, i + 1)]
        splits = not hyphen[1] and (hyphen[0] or hyphen[2])  # "supervised fine-tuning": no "supervised fine"
        if previous and set(gap) <= JOINERS and not splits:
            features.append(f"{previous} {key}")
            joiner = "-" if gap == "-" and kind != "tag" else " "
            surfaces[f"{pairs[i - 1][1].lower()}{joiner}{lower}"] += 1
        if kind != "tag":
            starts = kind == "title" or i == 0 or any(c in ENDS for c in gap)
            says_nothing = word == lower or (starts and word[1:] == lower[1:])
            spellings[lower if says_nothing else word] += 1
    return features, surfaces, spellings


def reference(paper) -> tuple[Counter, Counter, Counter]:
    stems = Stems()
    features, surfaces, spellings = Counter(), Counter(), Counter()
    texts = [
        (paper.title, "title"),
        (markdown_text(paper.body_md), "prose"),
        *((t, "tag") for t in paper.tags),
    ]
    for text, kind in texts:
        counted, seen, spelt = reference_text(text, kind, stems)
        features.update(counted * (TITLE_WEIGHT if kind == "title" else 1))
        surfaces.update(seen)
        spellings.update(spelt)
    return features, surfaces, spellings


def assert_counts_as_defined(papers, made: tokens.Tokens) -> None:
    by_slug = {p.slug: p for p in papers}
    assert made.slugs == tuple(sorted(by_slug))
    for row, slug in enumerate(made.slugs):
        expected = reference(by_slug[slug])
        for name, counts in zip(tokens.TABLES, expected, strict=True):
            assert getattr(made, name).row(row) == dict(counts), (slug, name)
    for name in tokens.TABLES:  # no string is kept that no row counts
        table = getattr(made, name)
        assert len(set(table.vocab)) == len(table.vocab) == len(set(table.indices.tolist()))


@pytest.fixture(params=[(tokens.BATCH, tokens.CODES), (7, tokens.CODES), (7, 0)])
def batch(request, monkeypatch):
    """Papers are counted in batches of BATCH (memory stays small): one batch, then many; and
    with codes numbered before they are combined with rows (as for huge vocabularies)."""
    monkeypatch.setattr(tokens, "BATCH", request.param[0])
    monkeypatch.setattr(tokens, "CODES", request.param[1])


def test_catalogue_and_synthetic_papers_count_as_defined(batch):
    project = Project.at(REPO)
    catalogue, _ = load_catalogue(project)
    for papers in (list(catalogue.papers), tie_papers(), synthetic(200, seed=6)):
        made, fresh = tokens.tokenise(papers)
        assert fresh == list(range(len(papers)))
        assert_counts_as_defined(papers, made)


WORDS = st.sampled_from(
    [
        "LoRA", "lora", "Lora", "low", "Low", "rank", "pre", "trained", "Training", "the", "of",
        "models", "GPT4", "2024", "x", "ab", "Adapters", "adapter", "self", "Attention",
        "caf\u00e9", "\ufb01ne", "na\u00efve", "\u00c9tude", "\u4e2d\u6587", "queries", "boxes",
    ]
)  # fmt: skip
GAPS = st.sampled_from(
    [" ", "-", " - ", ". ", ", ", ": ", "? ", "\n\n", "'", "*", "_", "`", "\u2013", "/", "(", ") ", "... "]
)
TEXT = st.lists(st.tuples(GAPS, WORDS), max_size=25).map(lambda pairs: "".join(g + w for g, w in pairs))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            TEXT, TEXT, st.lists(st.sampled_from(["low-rank", "pre-training", "LoRA", "rag"]), max_size=3)
        ),
        min_size=1,
        max_size=6,
    )
)
def test_generated_text_counts_as_defined(texts):
    papers = [
        paper(f"p-{i}", title, body + " [a link](https://x.org/low-rank) <b>Bold</b> &amp; more", tags)
        for i, (title, body, tags) in enumerate(texts)
    ]
    made, _ = tokens.tokenise(papers)
    assert_counts_as_defined(papers, made)


def test_rows_of_unchanged_papers_are_reused_and_the_result_is_as_if_counted_afresh(batch):
    papers = synthetic(60, seed=7)
    before, _ = tokens.tokenise(papers)
    edited = [
        dataclasses.replace(p, title=p.title + " Zyxomat-Tuning") if i % 7 == 3 else p
        for i, p in enumerate(papers)
    ]
    edited = edited[5:] + [paper("zz-new", "Brand New Words", "Nothing but zyxomat here.")]
    after, fresh = tokens.tokenise(edited, before)
    slugs = sorted(p.slug for p in edited)
    assert [slugs[i] for i in fresh] == sorted(
        [p.slug for i, p in enumerate(papers) if i % 7 == 3 and i >= 5] + ["zz-new"]
    )
    assert_counts_as_defined(edited, after)
    again, _ = tokens.tokenise(papers, after)  # the rare words go with the papers that had them
    assert "zyxomat" not in again.features.vocab
    assert_counts_as_defined(papers, again)


def test_papers_without_words(batch):
    made, fresh = tokens.tokenise([])
    assert made.slugs == () and fresh == [] and made.features.vocab == ()
    empty = [paper("a", "\u2014", ""), paper("b", "...", "!!! ???")]
    made, _ = tokens.tokenise(empty)
    assert_counts_as_defined(empty, made)
    assert made.features.row(0) == {} and list(made.features.indptr) == [0, 0, 0]
