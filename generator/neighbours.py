"""Each row's k most similar other rows of an L2-normalised sparse matrix, exactly.

`top_k` computes every row (chunk x all papers: one sparse product, a dense chunk x n block,
partial sorting), on a few threads: memory stays O(chunk x n) per thread, never n x n.
`update_top_k` does the same after a few rows changed, reusing the last result: a row whose
previous neighbours all kept their vectors only needs its scores against the changed rows.

Scores are cosines rounded to DECIMALS; ties go to the smaller column index. With sorted
indices score(i, j) == score(j, i) bit for bit (the same products, added in the same order),
which is what lets a changed row's scores stand in for the other rows' scores against it.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy import sparse

MIN_SCORE = 0.05
DECIMALS = 4
CHUNK = 512  # rows per similarity chunk at most...
CHUNK_CELLS = 1_000_000  # ...and at most this many chunk x n scores (8 MB) per thread
RECOMPUTE_ALL = 0.5  # update_top_k computes every row when the rows to redo are more than this share

Neighbours = tuple[np.ndarray, np.ndarray, np.ndarray]  # rows, columns, scores; by row, best first


def _empty() -> Neighbours:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)


def _scores(matrix: sparse.csr_matrix, transposed: sparse.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """Rounded scores of `rows` against all rows, as a dense len(rows) x n block."""
    scores = (matrix[rows] @ transposed).toarray()
    return np.round(scores, DECIMALS, out=scores)


def _best(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, k: int) -> Neighbours:
    """The k best candidates of each row, by score then smaller column; sorted by row."""
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    chosen = np.arange(len(rows)) - np.searchsorted(rows, rows) < k  # rank within the row
    return rows[chosen], cols[chosen], np.minimum(values[chosen], 1.0)


def _rows_top_k(
    matrix: sparse.csr_matrix, transposed: sparse.csr_matrix, rows: np.ndarray, k: int
) -> Neighbours:
    """Top k of some rows against all rows."""
    scores = _scores(matrix, transposed, rows)
    local = np.arange(len(rows))
    scores[local, rows] = -1.0  # never the paper itself
    negated = np.negative(scores)
    negated.partition(k - 1, axis=1)
    floor = np.maximum(-negated[:, k - 1], MIN_SCORE)  # the k-th best score of each row
    del negated
    at, cols = np.nonzero(scores >= floor[:, None])  # the top k, and anything tied with the k-th
    return _best(rows[at], cols, scores[at, cols], k)


def _chunks(items: np.ndarray, n: int, chunk: int | None) -> list[np.ndarray]:
    size = chunk or max(16, min(CHUNK, CHUNK_CELLS // max(n, 1)))
    return [items[s : s + size] for s in range(0, len(items), size)]


def _map(func, chunks: list, workers: int | None) -> list:
    """func over chunks on a few threads (scipy and numpy release the GIL), in order."""
    workers = workers or min(4, os.cpu_count() or 1, max(len(chunks), 1))
    if workers == 1 or len(chunks) <= 1:
        return [func(c) for c in chunks]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(func, chunks))


def _concat(parts: list[Neighbours]) -> Neighbours:
    if not parts:
        return _empty()
    rows, cols, scores = (np.concatenate(column) for column in zip(*parts, strict=True))
    return rows, cols, scores


def top_k(
    matrix: sparse.csr_matrix, k: int, chunk: int | None = None, workers: int | None = None
) -> Neighbours:
    """(rows, columns, scores) of each row's k best other rows (score >= MIN_SCORE), best first.

    Rows must be L2-normalised with sorted indices. Chunks of `chunk` rows (default: CHUNK,
    fewer for large n) run on `workers` threads (default: up to 4 CPUs).
    """
    n = matrix.shape[0]
    k = min(k, n - 1)
    if k <= 0:
        return _empty()
    transposed = matrix.T.tocsr()
    chunks = _chunks(np.arange(n), n, chunk)
    return _concat(_map(lambda rows: _rows_top_k(matrix, transposed, rows, k), chunks, workers))


def update_top_k(
    matrix: sparse.csr_matrix,
    k: int,
    changed: np.ndarray,
    previous: Neighbours,
    chunk: int | None = None,
    workers: int | None = None,
) -> Neighbours:
    """top_k(matrix, k), given the top k of the last matrix and which rows differ from it.

    `changed` flags the rows whose vectors are new or different; every other row must be
    bit-identical to its old self. `previous` is the last top_k with its rows and columns
    renumbered to this matrix, and -1 for a column that is gone. A row is recomputed in full
    if it changed or one of its previous neighbours changed or went; any other row keeps its
    previous neighbours (the best of the unchanged rows) and takes the best of those and of
    its scores against the changed rows. Falls back to top_k when that is most of the work.
    """
    n = matrix.shape[0]
    k = min(k, n - 1)
    if k <= 0:
        return _empty()
    old_rows, old_cols, old_scores = previous
    stale = changed.copy()
    lost = (old_cols < 0) | changed[np.maximum(old_cols, 0)]
    stale[old_rows[lost]] = True
    recompute, moved = np.flatnonzero(stale), np.flatnonzero(changed)
    if len(recompute) + len(moved) > RECOMPUTE_ALL * n:
        return top_k(matrix, k, chunk, workers)
    transposed = matrix.T.tocsr()
    parts = _map(lambda rows: _rows_top_k(matrix, transposed, rows, k), _chunks(recompute, n, chunk), workers)

    def against_moved(rows: np.ndarray) -> Neighbours:  # other rows' scores against changed ones
        scores = _scores(matrix, transposed, rows)
        at, others = np.nonzero(scores >= MIN_SCORE)
        keep = ~stale[others]  # unchanged rows only (so never a row against itself)
        return others[keep], rows[at[keep]], scores[at[keep], others[keep]]

    kept = ~stale[old_rows]
    candidates = [(old_rows[kept], old_cols[kept], old_scores[kept])]
    candidates += _map(against_moved, _chunks(moved, n, chunk), workers)
    parts.append(_best(*_concat(candidates), k))
    rows, cols, scores = _concat(parts)
    order = np.argsort(rows, kind="stable")  # each row comes from one part, best first
    return rows[order], cols[order], scores[order]
