"""Each row's most similar other rows of an L2-normalised sparse matrix, exactly.

`top_k` computes every row (chunk x all papers: one sparse product, a dense chunk x n block,
partial sorting), on a few threads: memory stays O(chunk x n) per thread, never n x n. It
keeps `keep` neighbours per row (a few more than are shown) and, for each row, a bound: no
row outside its list scores more than that.

Where products.py computes the scores (large catalogues), `top_k` scores each pair once
instead: score(i, j) == score(j, i), so row i is multiplied only with the rows after it, and
each score is offered to both rows' running lists of their best. That is half the products,
and no dense chunk x n block.

`update_top_k` does the same after an edit, reusing the last result. A row whose own text
changed is computed in full. Any other row moved at most by ‖δ‖, how far its vector moved
(an idf changed), so by Cauchy-Schwarz an outsider's score is at most its old bound plus
its own ‖δ‖ plus the largest ‖δ‖ of any other drifted row. The row's previous neighbours
and the changed rows are scored exactly (a previous neighbour's score is kept when neither
vector moved: the same products, in the same order); if the k-th best of those beats that
bound, no outsider can enter its top k, and the row is done. Otherwise it is computed in full.

Scores are cosines rounded to DECIMALS; ties go to the smaller column index. With sorted
indices score(i, j) == score(j, i) bit for bit (the same products, added in the same order),
and a pair scored on its own gets the bits it gets inside a full product.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from scipy import sparse

MIN_SCORE = 0.05
DECIMALS = 4
SLACK = 0.5 * 10.0**-DECIMALS  # a rounded score is at most this far from its float
EPS = 1e-9  # more than the floating-point error of any norm or score here
CHUNK = 512  # rows per similarity chunk at most...
CHUNK_CELLS = 1_000_000  # ...and at most this many chunk x n scores (8 MB) per thread
SYMMETRIC_CHUNK = 64  # rows dealt to a thread at a time when each pair is scored once
PAIR_ROWS = 32  # rows whose pairs are scored together
DRIFT_LIMIT = 1e-3  # a row that moved further (it gained or lost a term) is handled as changed
COMPILED_ROWS = 5000  # from this many rows on, products run compiled (products.py), the same
# floats; below it, importing numba (0.5-0.8 s) costs more than it saves


@dataclass(frozen=True, slots=True)
class Neighbours:
    """Up to `keep` best other rows of each row: entries sorted by row, then best first."""

    rows: np.ndarray
    cols: np.ndarray
    scores: np.ndarray
    bounds: np.ndarray  # per row: every row not listed scores at most this (before rounding)

    def first(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, columns, scores) of each row's k best."""
        chosen = _rank(self.rows) < k
        return self.rows[chosen], self.cols[chosen], self.scores[chosen]


def _rank(rows: np.ndarray) -> np.ndarray:
    """The position of each entry within its row, for entries sorted by row."""
    return np.arange(len(rows)) - np.searchsorted(rows, rows)


def _empty(n: int) -> Neighbours:
    none = np.zeros(0, dtype=np.int64)
    return Neighbours(none, none, np.zeros(0), np.full(n, MIN_SCORE - SLACK))


def compiled(n: int, load: bool = True) -> bool:
    """Whether scores among n rows are computed by products.py: from COMPILED_ROWS rows on,
    if numba imports and gives scipy's floats on this machine (checked once per process).
    With load=False, only if that code is loaded already: an update after an edit, in a new
    process, saves less than loading it costs (a warm process, serve, has it loaded)."""
    if n < COMPILED_ROWS or not (load or "generator.products" in sys.modules):
        return False
    return _compiled_usable()


@functools.cache
def _compiled_usable() -> bool:
    try:
        from . import products
    except ImportError as error:
        log.info("related papers: numba cannot be imported (%s); scipy computes every score", error)
        return False
    if not products.agrees_with_scipy():
        log.info("related papers: compiled scores differ from scipy's on this machine; scipy computes them")
        return False
    return True


def _scores(
    matrix: sparse.csr_matrix, transposed: sparse.csr_matrix, rows: np.ndarray, load: bool = True
) -> np.ndarray:
    """Rounded scores of `rows` against all rows, as a dense len(rows) x n block."""
    if compiled(matrix.shape[0], load):
        from . import products

        scores = products.block(matrix, transposed, rows)
    else:
        scores = (matrix[rows] @ transposed).toarray()
    return np.round(scores, DECIMALS, out=scores)


def _pair_scores(
    matrix: sparse.csr_matrix, rows: np.ndarray, cols: np.ndarray, load: bool = True
) -> np.ndarray:
    """Rounded scores of the pairs (rows[i], cols[i]), rows ascending, bit for bit as in a
    full product: a few rows at a time, against the union of their columns."""
    out = np.empty(len(rows))
    if not len(rows):
        return out
    if compiled(matrix.shape[0], load):
        from . import products

        return np.round(products.pairs(matrix, rows, cols), DECIMALS)
    starts = np.searchsorted(rows, np.unique(rows)[::PAIR_ROWS])
    for start, stop in zip(starts.tolist(), [*starts[1:].tolist(), len(rows)], strict=True):
        mine, theirs = (np.unique(a[start:stop], return_inverse=True) for a in (rows, cols))
        block = _scores(matrix, matrix[theirs[0]].T.tocsr(), mine[0], load)
        out[start:stop] = block[mine[1], theirs[1]]
    return out


def _best(rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
    """Candidates sorted by row, then score (best first), then smaller column; and their rank."""
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    return rows, cols, values, _rank(rows)


def _rows_top_k(
    matrix: sparse.csr_matrix, transposed: sparse.csr_matrix, rows: np.ndarray, keep: int, load: bool = True
) -> tuple[np.ndarray, ...]:
    """Top `keep` of some rows (ascending) against all rows, and their bounds."""
    return _block_top_k(_scores(matrix, transposed, rows, load), rows, keep)


def _block_top_k(scores: np.ndarray, rows: np.ndarray, keep: int) -> tuple[np.ndarray, ...]:
    """_rows_top_k from the rows' block of scores (which it overwrites)."""
    local = np.arange(len(rows))
    scores[local, rows] = -1.0  # never the paper itself
    negated = np.negative(scores)
    negated.partition(keep - 1, axis=1)
    floor = np.maximum(-negated[:, keep - 1], MIN_SCORE)  # the keep-th best score of each row
    del negated
    at, cols = np.nonzero(scores >= floor[:, None])  # the top `keep`, and anything tied with it
    r, c, v, rank = _best(rows[at], cols, scores[at, cols])
    chosen = rank < keep
    scores[np.searchsorted(rows, r[chosen]), c[chosen]] = -1.0  # rows ascend
    bounds = scores.max(axis=1, initial=-1.0) + SLACK  # the best row left out
    return r[chosen], c[chosen], np.minimum(v[chosen], 1.0), bounds


def _chunks(items: np.ndarray, n: int, chunk: int | None) -> list[np.ndarray]:
    size = chunk or max(16, min(CHUNK, CHUNK_CELLS // max(n, 1)))
    return [items[s : s + size] for s in range(0, len(items), size)]


def _threads(workers: int | None, chunks: int) -> int:
    return workers or min(4, os.cpu_count() or 1, max(chunks, 1))


def _map(func, chunks: list, workers: int | None) -> list:
    """func over chunks on a few threads (scipy, numpy and products.py release the GIL), in order."""
    workers = _threads(workers, len(chunks))
    if workers == 1 or len(chunks) <= 1:
        return [func(c) for c in chunks]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(func, chunks))


def _compute(
    matrix, transposed, rows: np.ndarray, keep: int, chunk: int | None, workers: int | None, load: bool = True
):
    parts = _map(
        lambda some: _rows_top_k(matrix, transposed, some, keep, load),
        _chunks(rows, matrix.shape[0], chunk),
        workers,
    )
    return _joined(parts)


def _joined(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """(rows, columns, scores, bounds) of parts, one after the other."""
    if not parts:
        none = np.zeros(0, dtype=np.int64)
        return none, none, np.zeros(0), np.zeros(0)
    return tuple(np.concatenate(column) for column in zip(*parts, strict=True))


def top_k(
    matrix: sparse.csr_matrix, keep: int, chunk: int | None = None, workers: int | None = None
) -> Neighbours:
    """Each row's `keep` best other rows (score >= MIN_SCORE), best first, with bounds.

    Rows must be L2-normalised with sorted indices. Chunks of `chunk` rows (default: CHUNK,
    fewer for large n) run on `workers` threads (default: up to 4 CPUs).
    """
    n = matrix.shape[0]
    keep = min(keep, n - 1)
    if keep <= 0:
        return _empty(n)
    if compiled(n):
        return _symmetric_top_k(matrix, keep, chunk, workers)
    rows, cols, scores, bounds = _compute(matrix, matrix.T.tocsr(), np.arange(n), keep, chunk, workers)
    return Neighbours(rows, cols, scores, bounds)


def _symmetric_top_k(
    matrix: sparse.csr_matrix, keep: int, chunk: int | None, workers: int | None
) -> Neighbours:
    """top_k by products.py, each pair scored once: chunks of rows are dealt out to the
    threads in turn (a row's pairs with later rows get fewer down the matrix), each thread
    keeps every row's best so far, and their lists are merged."""
    from . import products

    chunks = _chunks(np.arange(matrix.shape[0]), 0, chunk or SYMMETRIC_CHUNK)
    threads = _threads(workers, len(chunks))
    groups = [np.concatenate(chunks[t::threads]) for t in range(min(threads, len(chunks)))]
    rows, cols, scores, rest = products.symmetric_top_k(
        matrix, keep, DECIMALS, MIN_SCORE, groups, lambda func, parts: _map(func, parts, threads)
    )
    return Neighbours(rows, cols, np.minimum(scores, 1.0), rest + SLACK)


def update_top_k(
    matrix: sparse.csr_matrix,
    keep: int,
    k: int,
    previous: Neighbours,
    changed: np.ndarray,
    drift: np.ndarray,
    chunk: int | None = None,
    workers: int | None = None,
) -> Neighbours:
    """top_k(matrix, keep) for the rows that need it, given the last one, such that each
    row's first k are exactly those of top_k (the rest of a list may differ).

    `previous` is the last top_k with rows and columns renumbered to this matrix (-1: a
    row that is gone) and bounds per row of this matrix (NaN: a new row). `changed` flags
    the rows whose own text changed (computed in full); `drift` is ‖new - old‖ of every
    other row's vector (0: unchanged); one that drifted more than DRIFT_LIMIT counts as changed.
    """
    n = matrix.shape[0]
    keep = min(keep, n - 1)
    if keep <= 0:
        return _empty(n)
    changed = changed | (drift > DRIFT_LIMIT)  # a few such rows would loosen every bound
    full = changed | np.isnan(previous.bounds)
    if full.all():
        return top_k(matrix, keep, chunk, workers)
    transposed = matrix.T.tocsr()
    moved = np.flatnonzero(changed)
    largest = float(drift[~full].max(initial=0.0))
    # Candidates of every other row: its previous neighbours, and the changed rows.
    alive = (previous.cols >= 0) & ~full[previous.rows] & ~changed[np.maximum(previous.cols, 0)]
    rows, cols, known = previous.rows[alive], previous.cols[alive], previous.scores[alive].copy()
    moving = (drift[rows] != 0) | (drift[cols] != 0)  # two unmoved vectors: the score stands, bit for bit
    known[moving] = _pair_scores(matrix, rows[moving], cols[moving], load=False)
    parts = [(rows, cols, known)]
    done = []  # the changed rows' own top `keep`, from the same blocks of scores
    for some in _chunks(moved, n, chunk):
        scores = _scores(matrix, transposed, some, load=False)
        others = np.tile(np.arange(n), len(some))
        mine = np.repeat(some, n)
        keep_pair = ~full[others]
        parts.append((others[keep_pair], mine[keep_pair], scores.ravel()[keep_pair]))
        done.append(_block_top_k(scores, some, keep))
    r, c, v, rank = _best(*(np.concatenate(column) for column in zip(*parts, strict=True)))
    listed = v >= MIN_SCORE  # come first within a row
    count = np.bincount(r[listed], minlength=n)
    kth = np.full(n, -np.inf)
    at = listed & (rank == k - 1)
    kth[r[at]] = v[at]
    bound = previous.bounds + np.where(full, 0.0, drift) + largest + EPS
    safe = np.where(count >= k, kth > bound + SLACK + EPS, bound + SLACK + EPS < MIN_SCORE) & ~full
    chosen = safe[r] & listed & (rank < keep)
    outside = safe[r] & ~chosen
    best_outside = np.full(n, -np.inf)
    np.maximum.at(best_outside, r[outside], v[outside] + SLACK)
    bounds = np.where(safe, np.maximum(bound, best_outside), np.nan)
    redo = np.flatnonzero(~safe & ~changed)
    done.append(_compute(matrix, transposed, redo, keep, chunk, workers, load=False))
    done_rows, done_cols, done_scores, done_bounds = _joined(done)
    bounds[np.concatenate((moved, redo))] = done_bounds  # one bound per row, in the order computed
    rows = np.concatenate((r[chosen], done_rows))
    order = np.argsort(rows, kind="stable")  # each row comes from one part, best first
    cols = np.concatenate((c[chosen], done_cols))[order]
    scores = np.minimum(np.concatenate((v[chosen], done_scores)), 1.0)[order]
    return Neighbours(rows[order], cols, scores, bounds)
