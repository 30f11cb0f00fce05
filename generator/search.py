"""Catalogue -> prebuilt lunr indexes and stores for the browser (pure, no I/O).

Two tiers, so the first results need few bytes: `meta` (title, tags, topics, authors and
the result cards) answers as soon as it arrives; `abstracts` (the abstract index and the
text for snippets) loads behind it and refines the results.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .cache import value_digest
from .index_writer import terms, write_index, write_terms
from .lunr_js import JS_SPACE_RE, make_builder
from .model import Catalogue

# Title matches dominate; tags, topics and authors beat words that only the abstract has.
META_FIELDS = (("title", 10), ("tags", 3), ("topics", 3), ("authors", 2))
ABSTRACT_FIELDS = (("abstract", 1),)
CARD_AUTHORS = 3
SUMMARY_CHARS = 220
FORMAT = 2  # bump when the JSON layout changes; templates/static/search-core.js checks it


# Characters that separate words in the index as in queries (templates/static/search-core.js
# SEPARATORS): "Adaptation(LoRA)" is two words, "encoder/decoder" too.
WORD_BREAKS = re.compile(r"[*:^~+()\[\]{}/\\|]")


def _clean(text: str) -> str:
    return WORD_BREAKS.sub(" ", JS_SPACE_RE.sub(" ", text))


def short_ref(position: int) -> str:
    """A compact lunr ref (base 36): refs repeat in every posting, slugs would triple the index."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        position, rest = divmod(position, 36)
        out = digits[rest] + out
        if not position:
            return out


def meta_document(ref: str, title: str, authors, topics, tags, topic_names: dict[str, str]) -> dict:
    """The short fields of one paper, as strings lunr.js would tokenise alike."""
    return {
        "ref": ref,
        "title": _clean(title),
        "authors": _clean(", ".join(authors)),
        "topics": _clean(", ".join(topic_names[t] for t in topics)),
        "tags": " ".join(tag.replace("-", " ") for tag in tags),
    }


def summary(abstract: str, limit: int = SUMMARY_CHARS) -> str:
    """The abstract's start, cut at a word boundary."""
    text = " ".join(abstract.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


@dataclass(frozen=True)
class BuiltIndex:
    """A lunr index as lunr.py serialises it, plus what its weights were computed from."""

    serialised: dict
    boosts: tuple[int, ...]
    term_frequencies: dict[str, dict[str, int]]  # "field/ref" -> {term: tf}


def _index(fields, documents) -> BuiltIndex:
    builder = make_builder()
    builder.ref("ref")
    for name, boost in fields:
        builder.field(name, boost=boost)
    for doc in documents:
        builder.add(doc)
    index = builder.build()
    return BuiltIndex(index.serialize(), tuple(b for _, b in fields), builder.field_term_frequencies)


def compact_index(built: BuiltIndex, count: int) -> dict:
    """lunr's serialised index in a fraction of the bytes; search-core.js `expandIndex` restores it.

    Postings become delta-coded document positions instead of `{"ref": {}}` objects. Field
    vectors are not shipped at all: their BM25 weights follow from the postings, the term
    frequencies (sent only where above 1) and the field boosts, and the worker recomputes them
    with lunr's own formula (tests check the expansion equals lunr.py's index exactly).
    """
    index = built.serialised
    fields = index["fields"]
    terms = [term for term, _ in index["invertedIndex"]]
    position = {term: i for i, term in enumerate(terms)}
    postings = []
    for _, posting in index["invertedIndex"]:
        row = []
        for field in fields:
            positions = sorted(int(ref, 36) for ref in posting[field])
            row.append([b - a for a, b in zip([0, *positions], positions, strict=False)])
        postings.append([posting["_index"], row])
    repeats: dict[str, list] = {field: [] for field in fields}
    for field_ref, frequencies in built.term_frequencies.items():
        field, ref = field_ref.split("/", 1)
        for term, tf in frequencies.items():
            if tf > 1:
                repeats[field].append([int(ref, 36), position[term], tf])
    return {
        "version": index["version"],
        "fields": fields,
        "boosts": list(built.boosts),
        "documents": count,
        "pipeline": index["pipeline"],
        "terms": terms,
        "postings": postings,
        "tf": [sorted(repeats[field]) for field in fields],
    }


def tier_inputs(catalogue: Catalogue, abstracts: dict[str, str]) -> dict[str, tuple]:
    """{output path: everything that tier is made of}, cheap to gather; see make_tier.

    `abstracts` maps slug -> plain text of the abstract (from the rendered HTML).
    """
    papers = catalogue.papers
    return {
        "search/meta.json": (
            tuple((t.slug, t.name) for t in catalogue.topics),
            tuple((p.slug, p.title, p.year, p.authors, p.topics, p.tags) for p in papers),
        ),
        "search/abstracts.json": (
            tuple(abstracts[p.slug] for p in papers),
            tuple(
                p.body_terms if p.body_terms is not None and abstracts[p.slug] == p.body_text else None
                for p in papers
            ),
        ),
    }


def tier_key_parts(path: str, inputs: tuple) -> list[str]:
    """What a tier's key is made of: its inputs, and for the abstracts only their texts (the
    terms known beside them follow from the texts)."""
    return list(inputs[0]) if path == "search/abstracts.json" else [value_digest(inputs)]


def abstract_terms(text: str) -> str:
    """The search-index terms of an abstract's plain text, each after a "\n" (terms have none)."""
    found = terms(_clean(text))
    return "\n" + "\n".join(found) if found else ""


def make_tier(path: str, inputs: tuple) -> dict:
    """JSON-ready data of one tier, from its tier_inputs (and nothing else).

    Refs are base-36 positions in catalogue order (newest added first), which is also the
    order of the `docs` and `text` arrays.
    """
    if path == "search/abstracts.json":
        texts, known = inputs  # known: abstract_terms of each text, where already worked out
        return {
            "format": FORMAT,
            "text": [JS_SPACE_RE.sub(" ", t) for t in texts],
            "index": write_terms(
                ABSTRACT_FIELDS,
                (
                    [(abstract_terms(t) if k is None else k).split("\n")[1:]]
                    for t, k in zip(texts, known, strict=True)
                ),
            ),
        }
    topics, papers = inputs
    topic_index = {slug: i for i, (slug, _) in enumerate(topics)}
    topic_names = dict(topics)
    tags = sorted({tag for *_, paper_tags in papers for tag in paper_tags})
    tag_index = {t: i for i, t in enumerate(tags)}
    docs, documents = [], []
    for i, (slug, title, year, authors, paper_topics, paper_tags) in enumerate(papers):
        docs.append(
            [
                slug,
                title,
                year,
                list(authors[:CARD_AUTHORS]),
                len(authors),
                [topic_index[t] for t in paper_topics],
                [tag_index[t] for t in paper_tags],
            ]
        )
        documents.append(meta_document(short_ref(i), title, authors, paper_topics, paper_tags, topic_names))
    return {
        "format": FORMAT,
        "fields": ["slug", "title", "year", "authors", "authorCount", "topics", "tags"],
        "topics": [list(t) for t in topics],
        "tags": tags,
        "docs": docs,
        "index": write_index(META_FIELDS, documents),
    }


def build_search_index(catalogue: Catalogue, abstracts: dict[str, str]) -> dict[str, dict]:
    """{output path: JSON-ready data} for both tiers."""
    return {path: make_tier(path, inputs) for path, inputs in tier_inputs(catalogue, abstracts).items()}


def lunr_indexes(catalogue: Catalogue, abstracts: dict[str, str]) -> dict[str, BuiltIndex]:
    """Both tiers' lunr indexes, with lunr.py's serialisation (what lunr.js loads) inside.

    The reference: the build ships `index_writer.write_index`'s output, which tests check
    equals `compact_index` of these, and lunr.js's answers are checked against lunr.py's.
    """
    topic_names = {t.slug: t.name for t in catalogue.topics}
    refs = [short_ref(i) for i in range(len(catalogue.papers))]
    pairs = list(zip(refs, catalogue.papers, strict=True))
    return {
        "search/meta.json": _index(
            META_FIELDS,
            (meta_document(r, p.title, p.authors, p.topics, p.tags, topic_names) for r, p in pairs),
        ),
        "search/abstracts.json": _index(
            ABSTRACT_FIELDS, ({"ref": r, "abstract": _clean(abstracts[p.slug])} for r, p in pairs)
        ),
    }  # values are BuiltIndex
