"""Related papers: the nearest neighbours of every paper by TF-IDF cosine similarity.

Each paper becomes a sparse vector over word stems and bigrams of its title (counted twice),
its abstract (Markdown reduced to plain text) and its tags, as tokens.py counts them. Terms
found in a single paper cannot be shared, and terms in more than half of the papers say
nothing (unless only two papers have them: in a catalogue of two or three papers those are
exactly the shared terms), so both are dropped. Weights are sublinear tf (1 + log tf) times smooth idf
(log((1 + n) / (1 + df)) + 1), and rows are L2-normalised, so a sparse dot product is the cosine.

The nearest neighbours come from neighbours.py. Each comes with the shared terms that
contributed most to the similarity (the product of the two papers' weights), spelt the way the
catalogue spells them most ("LoRA", "adapters", "low-rank").

A build hands its `State` to the next: what each paper's text counted (`Tokens`) and the
neighbours found, with bounds. Then only the papers whose title, abstract or tags changed are
read again and compared with everyone; a paper whose vector only drifted (a term's weight
moved) keeps its neighbours when their bound proves it (neighbours.update_top_k). Reasons are
worked out again only where a pair's vectors or the spelling of a term changed. The result
is the same as computing afresh (tested).

Everything is deterministic: papers are sorted by slug first, scores are rounded to four
decimals before ranking, ties go to the smaller slug, and score(a, b) == score(b, a) exactly.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy import sparse

from . import neighbours
from .model import Paper
from .neighbours import DECIMALS, MIN_SCORE, Neighbours, top_k, update_top_k
from .tokens import Stems, Text, Tokens, stem, tokenise

__all__ = [
    "DECIMALS",
    "MIN_SCORE",
    "Text",
    "related_papers",
    "stem",
    "tokenise",
    "top_k",
    "update",
    "vectorise",
]

K = 5
EXTRA = 5  # neighbours remembered beyond K: candidates that let most rows skip a full comparison
MAX_DF = 0.5  # terms in more than this share of papers are ignored (unless in just two)
REASON_TERMS = 3
CANDIDATES = 8  # shared terms considered for a reason, best first
REASON_BATCH = 4096  # pairs whose reasons are worked out together
Related = tuple[tuple[str, float, tuple[str, ...]], ...]

_WORD = re.compile(r"[A-Za-z0-9]+")
_SEPARATOR = re.compile(r"[ -]")


@dataclass(frozen=True, slots=True)
class Vectors:
    """The TF-IDF matrix of a catalogue: row i is `slugs[i]` (sorted), column j is `terms[j]`."""

    slugs: tuple[str, ...]
    matrix: sparse.csr_matrix  # float64, L2-normalised rows, sorted indices
    keys: tuple[str, ...]  # the feature key of each column, sorted
    terms: tuple[str, ...]  # display form of each column
    stems: tuple[frozenset[str], ...]  # the stems each column is made of (one, or two for bigrams)


def _display(keys: Iterable[str], tokens: Tokens) -> dict[str, str]:
    """Feature key -> most frequent surface form (ties: alphabetical) in its most common spelling."""
    stems = Stems()
    by_key: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for surface, count in tokens.surfaces.totals().items():
        by_key[" ".join(stems[w] for w in _SEPARATOR.split(surface))].append((-count, surface))
    spelt: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for written, count in tokens.spellings.totals().items():
        spelt[written.lower()].append((-count, written))
    spelling = {lower: min(forms)[1] for lower, forms in spelt.items()}
    out = {}
    for key in keys:
        surface = min(by_key[key])[1]
        out[key] = _WORD.sub(lambda m: spelling.get(m.group(), m.group()), surface)
    return out


def _kept(df: np.ndarray, n: int) -> np.ndarray:
    """Which terms count: in two papers at least, and in at most half (or just two)."""
    return (df >= 2) & ((df <= MAX_DF * n) | (df == 2))


def vectors_of(tokens: Tokens) -> Vectors:
    """TF-IDF vectors of tokenised papers, with display forms of the kept terms."""
    matrix, keys = _weights(tokens)
    display = _display(keys, tokens)
    return Vectors(
        tokens.slugs,
        matrix,
        tuple(keys),
        tuple(display[key] for key in keys),
        tuple(frozenset(key.split(" ")) for key in keys),
    )


def _weights(tokens: Tokens) -> tuple[sparse.csr_matrix, list[str]]:
    """The TF-IDF matrix (rows: papers; columns: the kept terms, sorted) and its column keys."""
    from scipy import sparse  # 0.12 s to import: not needed when no paper's tokens changed

    table, n = tokens.features, len(tokens.slugs)
    df = table.frequencies()
    kept = sorted(np.flatnonzero(_kept(df, n)).tolist(), key=table.vocab.__getitem__)  # in key order
    keys = [table.vocab[j] for j in kept]
    column = np.full(len(table.vocab), -1, dtype=np.int64)
    column[kept] = np.arange(len(kept))
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(table.indptr))
    cols = column[table.indices]
    mask = cols >= 0
    rows, cols = rows[mask], cols[mask]
    tf = 1.0 + np.log(table.counts[mask].astype(np.float64))
    idf = np.log((1.0 + n) / (1.0 + df[kept].astype(np.float64))) + 1.0
    matrix = sparse.csr_matrix((tf * idf[cols], (rows, cols)), shape=(n, len(keys)))
    matrix.sort_indices()
    # Each norm is summed in column order: a row's weights depend on its own terms alone.
    lengths = np.diff(matrix.indptr)
    norms = np.sqrt(np.bincount(np.repeat(np.arange(n), lengths), weights=matrix.data**2, minlength=n))
    matrix.data /= np.repeat(norms, lengths)  # every kept entry's row has a positive norm
    return matrix, keys


def vectorise(papers: Iterable[Paper]) -> Vectors:
    """TF-IDF vectors of papers (rows sorted by slug), with display forms of the kept terms."""
    return vectors_of(tokenise(papers)[0])


def _pick(candidates: list[int], stems: tuple[frozenset[str], ...]) -> list[int]:
    """Up to REASON_TERMS terms, best first, no stem twice; a bigram replaces its words if chosen."""
    chosen: list[int] = []
    for j in candidates:
        overlap = [c for c in chosen if stems[c] & stems[j]]
        if not overlap:
            if len(chosen) < REASON_TERMS:
                chosen.append(j)
        elif all(stems[c] < stems[j] for c in overlap):  # "question", "answering" -> "question answering"
            chosen[chosen.index(overlap[0])] = j
            chosen = [c for c in chosen if c not in overlap]  # j itself is not in overlap
    return chosen


def _name_ranks(terms: Sequence[str]) -> np.ndarray:
    """Position of each term in alphabetical order (ties by column)."""
    ranks = np.empty(len(terms), dtype=np.int64)
    ranks[sorted(range(len(terms)), key=terms.__getitem__)] = np.arange(len(terms))
    return ranks


def _ranking(group: np.ndarray, value: np.ndarray, name: np.ndarray) -> np.ndarray:
    """Order by group, then value descending, then name: np.lexsort, but one int64 sort (faster)."""
    distinct, inverse = np.unique(-value, return_inverse=True)
    span_name, span_value = int(name.max(initial=0)) + 1, len(distinct)
    if (int(group.max(initial=0)) + 1) * span_value * span_name >= 2**62:
        return np.lexsort((name, -value, group))
    key = (group.astype(np.int64) * span_value + inverse.ravel()) * span_name + name
    return np.argsort(key, kind="stable")


def _reasons(
    vectors: Vectors, rows: np.ndarray, cols: np.ndarray, load: bool = True
) -> list[tuple[str, ...]]:
    """For each pair, the shared terms with the largest products of the two papers' weights
    (`load`: see neighbours.compiled)."""
    names = _name_ranks(vectors.terms)
    if neighbours.compiled(vectors.matrix.shape[0], load):
        from . import products

        terms = vectors.terms
        bounds, candidates = products.candidates(vectors.matrix, names, rows, cols, CANDIDATES)
        picked = products.pick(bounds, candidates, products.stem_numbers(vectors.stems), REASON_TERMS)
        return [tuple(terms[j] for j in chosen if j >= 0) for chosen in picked.tolist()]
    out: list[tuple[str, ...]] = []
    for start in range(0, len(rows), REASON_BATCH):  # batches keep memory small
        batch = slice(start, start + REASON_BATCH)
        shared = vectors.matrix[rows[batch]].multiply(vectors.matrix[cols[batch]]).tocsr()
        shared.eliminate_zeros()
        pair = np.repeat(np.arange(shared.shape[0]), np.diff(shared.indptr))
        order = _ranking(pair, shared.data, names[shared.indices])
        pair, term = pair[order], shared.indices[order]
        head = np.arange(len(pair)) - np.searchsorted(pair, pair) < CANDIDATES
        pair, term = pair[head], term[head]
        bounds = np.searchsorted(pair, np.arange(shared.shape[0] + 1))
        term, bounds = term.tolist(), bounds.tolist()
        for p in range(shared.shape[0]):
            picked = _pick(term[bounds[p] : bounds[p + 1]], vectors.stems)
            out.append(tuple(vectors.terms[j] for j in picked))
    return out


@dataclass(frozen=True, slots=True)
class State:
    """What a build leaves for the next: its tokens, and the neighbours it found (row numbers)."""

    tokens: Tokens
    k: int
    neighbours: Neighbours  # EXTRA more than k per row, with bounds (see neighbours.py)
    reasons: tuple[tuple[str, ...], ...]  # of each row's first k neighbours
    display: dict[str, str]  # feature key -> display form, of the terms that counted
    matrix: sparse.csr_matrix | None = None  # the weights of _weights(tokens), columns in display's order


def related_papers(papers: Iterable[Paper], k: int = K) -> dict[str, Related]:
    """slug -> up to k (other slug, cosine, reason terms), most similar first."""
    return update(papers, None, k)[0]


def update(
    papers: Iterable[Paper], previous: State | None = None, k: int = K
) -> tuple[dict[str, Related], State]:
    """related_papers, and the State to pass next time; reuses what `previous` still holds."""
    tokens, fresh = tokenise(papers, previous.tokens if previous else None)
    if previous is not None and previous.k == k and _same_tokens(previous.tokens, tokens, fresh):
        state = dataclasses.replace(previous, tokens=tokens)  # e.g. only a number or a link changed
        # (the same counts: the same weights)
        return _related(tokens.slugs, previous.neighbours.first(k), list(previous.reasons)), state
    vectors = vectors_of(tokens)
    # Scores kept from the last build may come from the other code (scipy or products.py):
    # the same floats, as neighbours.compiled checks on this machine before using products.py.
    if previous is None or previous.k != k or not previous.tokens.slugs:
        found = top_k(vectors.matrix, k + EXTRA)
        first = found.first(k)
        reasons = _reasons(vectors, *first[:2])
    else:
        kept = None if previous.matrix is None else (previous.matrix, list(previous.display))
        changed, drift = _movement(previous.tokens, tokens, fresh, vectors, kept)
        old, old_first = _renumbered(previous, tokens.slugs)
        found = update_top_k(vectors.matrix, k + EXTRA, k, old, changed, drift)
        first = found.first(k)
        dirty = _dirty(vectors, changed | (drift != 0), previous.display)
        reasons = _reasons_reusing(vectors, first, old_first, dirty)
    display = dict(zip(vectors.keys, vectors.terms, strict=True))
    state = State(tokens, k, found, tuple(reasons), display, vectors.matrix)
    return _related(vectors.slugs, first, reasons), state


def _same_tokens(old: Tokens, new: Tokens, fresh: list[int]) -> bool:
    """The same papers, and those read anew counted exactly what they counted before."""
    return old.slugs == new.slugs and all(
        getattr(old, name).row(i) == getattr(new, name).row(i)
        for i in fresh
        for name in ("features", "surfaces", "spellings")
    )


def _movement(
    old: Tokens, new: Tokens, fresh: list[int], vectors: Vectors, old_weights: tuple | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Which rows' own terms changed (or are new), and how far every other row's vector moved
    (‖new - old‖; an idf changed, or a term started or stopped counting). `old_weights`:
    _weights(old), if kept."""
    from scipy import sparse

    n = len(new.slugs)
    where = dict(zip(old.slugs, range(len(old.slugs)), strict=True))
    before = np.fromiter((where.get(slug, -1) for slug in new.slugs), np.int64, n)
    changed = before < 0
    for i in fresh:
        changed[i] = changed[i] or old.features.row(before[i]) != new.features.row(i)
    old_matrix, old_keys = old_weights or _weights(old)
    index = dict(zip(vectors.keys, range(len(vectors.keys)), strict=True))
    column = np.fromiter(
        (index.get(key, len(index) + j) for j, key in enumerate(old_keys)), np.int64, len(old_keys)
    )
    width = len(index) + len(old_keys)
    aligned = old_matrix[np.maximum(before, 0)].tocsr()
    aligned.data[np.repeat(changed, np.diff(aligned.indptr))] = 0.0  # new rows have no old self
    aligned = sparse.csr_matrix((aligned.data, column[aligned.indices], aligned.indptr), shape=(n, width))
    matrix = vectors.matrix
    now = sparse.csr_matrix((matrix.data, matrix.indices, matrix.indptr), shape=(n, width))
    delta = (now - aligned).tocsr()
    drift = np.sqrt(np.asarray(delta.multiply(delta).sum(axis=1)).ravel())
    drift[changed] = 0.0  # computed in full anyway
    return changed, drift


def _renumbered(previous: State, slugs: tuple[str, ...]) -> tuple[Neighbours, tuple]:
    """The previous neighbours in this build's row numbers (-1: a paper that is gone; bound
    NaN: a new paper), and the reasons of the previous first k by pair (see _known)."""
    where = dict(zip(slugs, range(len(slugs)), strict=True))
    old = previous.tokens.slugs
    number = np.fromiter((where.get(slug, -1) for slug in old), np.int64, len(old))
    found = previous.neighbours
    rows, cols = number[found.rows], number[found.cols]
    alive = rows >= 0
    bounds = np.full(len(slugs), np.nan)
    bounds[number[number >= 0]] = found.bounds[number >= 0]
    renumbered = Neighbours(rows[alive], cols[alive], found.scores[alive], bounds)
    first_rows, first_cols, _ = found.first(previous.k)
    return renumbered, _known(number[first_rows], number[first_cols], len(slugs), previous.reasons)


def _known(rows: np.ndarray, cols: np.ndarray, n: int, reasons: Sequence) -> tuple:
    """Reasons by pair (row, column; -1: a paper that is gone), for _reasons_reusing: the
    pairs' codes (row * n + column) sorted, with their reasons in that order. Sorted arrays
    and a binary search, not a dict of 50,000 pairs (0.07 s of an update at 10,000 papers)."""
    alive = (rows >= 0) & (cols >= 0)
    codes = rows[alive] * n + cols[alive]
    order = np.argsort(codes, kind="stable")
    kept = np.flatnonzero(alive)[order].tolist()
    return codes[order], [reasons[i] for i in kept]


def _dirty(vectors: Vectors, changed: np.ndarray, display: dict[str, str]) -> np.ndarray:
    """Rows whose pairs need their reasons worked out again: changed rows, and rows with a term
    whose display form changed (it may rank differently among a pair's shared terms)."""
    moved = np.fromiter(
        (display.get(key) != term for key, term in zip(vectors.keys, vectors.terms, strict=True)),
        bool,
        len(vectors.keys),
    )
    dirty = changed.copy()
    if moved.any():
        matrix = vectors.matrix
        dirty[np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))[moved[matrix.indices]]] = True
    return dirty


def _reasons_reusing(
    vectors: Vectors, first: tuple, known: tuple, dirty: np.ndarray
) -> list[tuple[str, ...]]:
    """_reasons of the pairs in `first`, taken from `known` (see _known) for pairs of rows
    that are not dirty."""
    rows, cols, _ = first
    codes, reasons = known
    wanted = rows.astype(np.int64) * vectors.matrix.shape[0] + cols
    at = np.minimum(np.searchsorted(codes, wanted), max(len(codes) - 1, 0))
    found = (codes[at] == wanted) & ~dirty[rows] & ~dirty[cols] if len(codes) else np.zeros(len(rows), bool)
    out: list[tuple[str, ...] | None] = [
        reasons[j] if hit else None for j, hit in zip(at.tolist(), found.tolist(), strict=True)
    ]
    todo = np.flatnonzero(~found).tolist()
    if todo:
        for i, reason in zip(todo, _reasons(vectors, rows[todo], cols[todo], load=False), strict=True):
            out[i] = reason
    return out  # type: ignore[return-value]  # every None was filled in


def _related(
    slugs: tuple[str, ...], neighbours: Neighbours, reasons: list[tuple[str, ...]]
) -> dict[str, Related]:
    result: dict[str, list[tuple[str, float, tuple[str, ...]]]] = {s: [] for s in slugs}
    rows, cols, scores = neighbours
    for r, c, score, reason in zip(rows.tolist(), cols.tolist(), scores.tolist(), reasons, strict=True):
        result[slugs[r]].append((slugs[c], score, reason))
    return {slug: tuple(items) for slug, items in result.items()}


def reason_text(terms: Sequence[str]) -> str:
    """A human-readable reason: "shared: a, b, c"."""
    return "shared: " + ", ".join(terms)
