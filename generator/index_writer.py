"""A fast writer of the compact search index, equal to what lunr.py would build.

lunr.py spends most of a large build (about 45 s of 90 at 10,000 papers) creating Token
objects, running its pipeline object by object and computing field vectors that the browser
recomputes anyway (templates/static/search-core.js). This writer tokenises and runs the same
pipeline functions (generator/lunr_js.py) on plain strings, caches every distinct word, and
emits `search.compact_index`'s format directly. Tests check its output equals
`compact_index` of the lunr.py index, byte for byte, on the catalogue and on synthetic ones.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from lunr import __TARGET_JS_VERSION__
from lunr.stop_word_filter import WORDS as STOP_WORDS
from lunr.tokenizer import SEPARATOR_CHARS

from .lunr_js import FOLD_LABEL, _trim, fold_text, porter_stem


@lru_cache(maxsize=500_000)
def term_of(token: str) -> str | None:
    """The index pipeline on one lowercased token: fold, trim, stop words, stem (None: dropped)."""
    trimmed = _trim(fold_text(token))
    if trimmed in STOP_WORDS:
        return None
    return porter_stem(trimmed)


def _split(text: str) -> list[str]:
    """The text split at each separator (a regex split took twice the time): every separator
    made a space, then split at each space, empty strings included."""
    for separator in SEPARATOR_CHARS:
        if separator != " " and separator in text:
            text = text.replace(separator, " ")
    return text.split(" ")


def terms(text: str) -> list[str]:
    """lunr.py's Tokenizer then the pipeline: the terms of one field value, in order."""
    found = map(term_of, filter(None, _split(str(text).lower())))  # no Python loop per token
    return [term for term in found if term is not None]


def write_index(fields, documents) -> dict:
    """The compact index for `documents` (dicts with the field names), in document order."""
    names = [name for name, _ in fields]
    return write_terms(fields, ([terms(doc[name]) for name in names] for doc in documents))


def write_terms(fields, documents) -> dict:
    """The compact index of documents given as their terms: one list per field, in field order."""
    names = [name for name, _ in fields]
    width = range(len(names))
    postings: dict[str, list[list[int]]] = {}  # term -> positions per field; in first-seen order
    repeats: list[list] = [[] for _ in names]
    count = 0
    for position, doc in enumerate(documents):
        count += 1
        for f, field_terms in enumerate(doc):
            for term, tf in Counter(field_terms).items():  # a Counter keeps first-seen order
                per_field = postings.get(term)
                if per_field is None:
                    per_field = postings[term] = [[] for _ in width]
                per_field[f].append(position)  # positions arrive in increasing order
                if tf > 1:
                    repeats[f].append((position, term, tf))
    first_seen = {term: i for i, term in enumerate(postings)}
    ordered = sorted(postings)
    where = {term: i for i, term in enumerate(ordered)}
    rows = []
    for term in ordered:
        row = []
        for positions in postings[term]:
            row.append([b - a for a, b in zip([0, *positions], positions, strict=False)])
        rows.append([first_seen[term], row])
    return {
        "version": __TARGET_JS_VERSION__,
        "fields": names,
        "boosts": [boost for _, boost in fields],
        "documents": count,
        "pipeline": [FOLD_LABEL, "stemmer"],
        "terms": ordered,
        "postings": rows,
        "tf": [sorted([p, where[t], tf] for p, t, tf in field) for field in repeats],
    }
