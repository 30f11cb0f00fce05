"""The related papers' inner loops, compiled with numba.

`block(a, b, rows)` is `(a[rows] @ b).toarray()` for float64 CSR matrices, bit for bit: each
cell adds the same products in the same order as scipy's sparse product (row i's entries in
index order, each times b's row in index order), into a dense row instead of a sparse one,
which saves scipy's bookkeeping of which cells are set: about twice as fast at 10,000
papers. `symmetric_top_k` finds each row's best other rows of a @ a.T, scoring each pair
once (the rows after it only, the same floats), with running lists of each row's best
instead of dense blocks: half the products of `block` for a catalogue's first build.
`pairs` scores single cells of a @ a.T, the same floats again, by walking the two rows'
sorted indices together: after an edit that moves many vectors, rescoring their listed
pairs no longer computes whole blocks around them. `candidates` and `pick` are the
reasons of related._reasons for a batch of pairs: the shared terms with the largest
products, walking the two rows together, instead of scipy's product of whole rows and a sort.

"The same floats" holds where scipy's compiled code does not fuse a multiply and an add
into one rounding (numba never does without fastmath): true of scipy's x86-64 wheels, not
certain elsewhere, so `agrees_with_scipy` checks it on this machine before neighbours.py
uses these (and only from neighbours.COMPILED_ROWS rows on: importing numba and loading the
compiled code, kept in __pycache__ or numba's cache folder, costs about 0.5 s).
"""

from __future__ import annotations

import numba
import numpy as np
from scipy import sparse


def _jit(func):
    try:
        return numba.njit(cache=True, nogil=True)(func)
    except RuntimeError:  # nowhere to keep compiled code (read-only install, no home): compile per run
        return numba.njit(nogil=True)(func)


@_jit
def _block(a_indptr, a_indices, a_data, b_indptr, b_indices, b_data, rows, width):  # pragma: no cover
    out = np.zeros((len(rows), width))
    for r in range(len(rows)):
        sums = out[r]
        i = rows[r]
        for jj in range(a_indptr[i], a_indptr[i + 1]):
            j = a_indices[jj]
            v = a_data[jj]
            for kk in range(b_indptr[j], b_indptr[j + 1]):
                sums[b_indices[kk]] += v * b_data[kk]
    return out


@_jit
def _longest_row(indptr):  # pragma: no cover
    longest = 0
    for r in range(len(indptr) - 1):
        longest = max(longest, indptr[r + 1] - indptr[r])
    return longest


@_jit
def _shared(indptr, indices, row, col, at_row, at_col):  # pragma: no cover
    """The entries of the terms both rows have (sorted indices), in index order, walking the
    two rows together: their positions go into at_row and at_col; returns how many."""
    i, i_end = indptr[row], indptr[row + 1]
    j, j_end = indptr[col], indptr[col + 1]
    n = 0
    while i < i_end and j < j_end:
        if indices[i] < indices[j]:
            i += 1
        elif indices[i] > indices[j]:
            j += 1
        else:
            at_row[n], at_col[n] = i, j
            n += 1
            i += 1
            j += 1
    return n


@_jit
def _pairs(indptr, indices, data, rows, cols):  # pragma: no cover
    out = np.zeros(len(rows))
    longest = _longest_row(indptr)
    at_row, at_col = np.empty(longest, np.int64), np.empty(longest, np.int64)
    for p in range(len(rows)):
        total = 0.0
        for q in range(_shared(indptr, indices, rows[p], cols[p], at_row, at_col)):
            total += data[at_row[q]] * data[at_col[q]]
        out[p] = total
    return out


@_jit
def _better(s, c, other_s, other_c):  # pragma: no cover
    return s > other_s or (s == other_s and c < other_c)


@_jit
def _offer(best_s, best_c, count, rest, row, col, s, min_score):  # pragma: no cover
    """Row `row` sees `col` at score s: keep it among its best (score descending, then smaller
    column) or count it in `rest`, the best score left out."""
    keep = best_s.shape[1]
    if s < min_score:
        if s > rest[row]:
            rest[row] = s
        return
    pos = count[row]
    if pos == keep:
        worst_s, worst_c = best_s[row, keep - 1], best_c[row, keep - 1]
        if not _better(s, col, worst_s, worst_c):
            if s > rest[row]:
                rest[row] = s
            return
        if worst_s > rest[row]:
            rest[row] = worst_s
        pos = keep - 1
    else:
        count[row] = pos + 1
    while pos > 0 and _better(s, col, best_s[row, pos - 1], best_c[row, pos - 1]):
        best_s[row, pos] = best_s[row, pos - 1]
        best_c[row, pos] = best_c[row, pos - 1]
        pos -= 1
    best_s[row, pos] = s
    best_c[row, pos] = col


@_jit
def _symmetric(
    indptr, indices, data, t_indptr, t_indices, t_data, rows, scale, min_score, best_s, best_c, count, rest
):  # pragma: no cover
    n, keep = len(indptr) - 1, best_s.shape[1]
    sums = np.zeros(n)
    floor = np.full(n, min_score)  # a score below a row's floor cannot enter its list (all empty)
    for i in rows:
        for jj in range(indptr[i], indptr[i + 1]):
            t = indices[jj]
            v = data[jj]
            start, stop = t_indptr[t], t_indptr[t + 1]
            for kk in range(start + np.searchsorted(t_indices[start:stop], i, "right"), stop):
                sums[t_indices[kk]] += v * t_data[kk]  # rows after i only
        for j in range(i + 1, n):
            s = np.rint(sums[j] * scale) / scale  # np.round(x, decimals), the same float
            sums[j] = 0.0
            for row, col in ((i, j), (j, i)):
                if s < floor[row]:
                    if s > rest[row]:
                        rest[row] = s
                else:
                    _offer(best_s, best_c, count, rest, row, col, s, min_score)
                    if count[row] == keep:
                        floor[row] = max(min_score, best_s[row, keep - 1])


@_jit
def _merge(best_s, best_c, count, rest, more_s, more_c, more_count, more_rest):  # pragma: no cover
    """Fold one partial result into another: the same best lists as if one had seen it all."""
    for row in range(len(count)):
        if more_rest[row] > rest[row]:
            rest[row] = more_rest[row]
        for p in range(more_count[row]):
            _offer(best_s, best_c, count, rest, row, more_c[row, p], more_s[row, p], -np.inf)


def pairs(a: sparse.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(a @ a.T)[rows[p], cols[p]] for each p, the floats of block(a, a.T.tocsr(), ...): the
    same products added in the same order (a: float64 CSR with sorted indices)."""
    return _pairs(a.indptr, a.indices, a.data, np.asarray(rows, np.int64), np.asarray(cols, np.int64))


@_jit
def _candidates(indptr, indices, data, names, rows, cols, limit):  # pragma: no cover
    """Each pair's shared terms with the largest products (non-zero; ties: smaller name rank),
    best first: the first `limit` of each pair in related._reasons' ranking."""
    out = np.full((len(rows), limit), -1, np.int64)
    count = np.zeros(len(rows), np.int64)
    best = np.empty(limit)
    longest = _longest_row(indptr)
    at_row, at_col = np.empty(longest, np.int64), np.empty(longest, np.int64)
    for p in range(len(rows)):
        size = 0
        for q in range(_shared(indptr, indices, rows[p], cols[p], at_row, at_col)):
            v = data[at_row[q]] * data[at_col[q]]
            t = indices[at_row[q]]
            if v == 0.0:  # underflow: scipy's product drops such an entry
                continue
            pos = size
            while pos > 0 and (
                v > best[pos - 1] or (v == best[pos - 1] and names[t] < names[out[p, pos - 1]])
            ):
                pos -= 1
            if pos == limit:
                continue
            last = min(size, limit - 1)
            for x in range(last, pos, -1):
                best[x] = best[x - 1]
                out[p, x] = out[p, x - 1]
            best[pos] = v
            out[p, pos] = t
            if size < limit:
                size += 1
        count[p] = size
    return out, count


def candidates(
    a: sparse.csr_matrix, names: np.ndarray, rows: np.ndarray, cols: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """The candidates of related._reasons for pairs (rows[p], cols[p]) of a's rows (float64 CSR
    with sorted indices), as pick takes them: (bounds, terms). The products are a's weights
    multiplied as scipy's `multiply` does, one multiplication each: the same floats."""
    out, count = _candidates(
        a.indptr,
        a.indices,
        a.data,
        np.asarray(names, np.int64),
        np.asarray(rows, np.int64),
        np.asarray(cols, np.int64),
        limit,
    )
    bounds = np.zeros(len(count) + 1, np.int64)
    np.cumsum(count, out=bounds[1:])
    return bounds, out[out >= 0]


@_jit
def _share_stem(first, second, c, j):  # pragma: no cover
    return (
        first[c] == first[j]
        or first[c] == second[j]
        or (second[c] >= 0 and (second[c] == first[j] or second[c] == second[j]))
    )


@_jit
def _pick(bounds, terms, first, second, limit):  # pragma: no cover
    out = np.full((len(bounds) - 1, limit), -1, np.int64)
    chosen = np.empty(limit, np.int64)
    for p in range(len(bounds) - 1):
        size = 0
        for q in range(bounds[p], bounds[p + 1]):
            j = terms[q]
            overlaps, within = 0, True
            for x in range(size):
                if _share_stem(first, second, chosen[x], j):
                    overlaps += 1
                    c = chosen[x]
                    # c's stems a proper subset of j's: c has one (which j shares), j two
                    within = within and second[c] < 0 and second[j] >= 0
            if overlaps == 0:
                if size < limit:
                    chosen[size] = j
                    size += 1
            elif within:  # j takes the place of the first term it overlaps; the others go
                kept, placed = 0, False
                for x in range(size):
                    if not _share_stem(first, second, chosen[x], j):
                        chosen[kept] = chosen[x]
                        kept += 1
                    elif not placed:
                        chosen[kept] = j
                        kept += 1
                        placed = True
                size = kept
        out[p, :size] = chosen[:size]
    return out


def stem_numbers(stems: tuple[frozenset[str], ...]) -> tuple[np.ndarray, np.ndarray]:
    """Each term's one or two stems as numbers (first, second; -1: no second stem)."""
    ids: dict[str, int] = {}
    first = np.full(len(stems), -1, np.int64)
    second = np.full(len(stems), -1, np.int64)
    for j, group in enumerate(stems):
        numbers = sorted(ids.setdefault(stem, len(ids)) for stem in group)
        if not 1 <= len(numbers) <= 2:
            raise ValueError(f"a term of {len(numbers)} stems: {sorted(group)}")
        first[j], second[j] = numbers[0], numbers[-1] if len(numbers) == 2 else -1
    return first, second


def pick(
    bounds: np.ndarray, terms: np.ndarray, numbers: tuple[np.ndarray, np.ndarray], limit: int
) -> np.ndarray:
    """related._pick for each pair p, whose candidates are terms[bounds[p]:bounds[p + 1]]
    (`numbers`: stem_numbers of the terms): up to `limit` chosen terms per pair, padded with -1."""
    return _pick(np.asarray(bounds, np.int64), np.asarray(terms, np.int64), *numbers, limit)


def block(a: sparse.csr_matrix, b: sparse.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """(a[rows] @ b).toarray(), the same floats: a dense len(rows) x b.shape[1] block (a and
    b: float64 CSR). Releases the GIL while it runs."""
    return _block(
        a.indptr, a.indices, a.data, b.indptr, b.indices, b.data, np.asarray(rows, np.int64), b.shape[1]
    )


def agrees_with_scipy() -> bool:
    """Whether block, pairs and symmetric_top_k give scipy's floats (and np.round's) on this
    machine: checked on a small, dense case (two dozen products of widely spread sizes per
    cell) where a fused multiply-add in scipy would show. Also loads the compiled code for the
    index types scipy uses (int32)."""
    rng = np.random.default_rng(0)
    a = sparse.random(24, 40, density=0.6, format="csr", random_state=rng)
    a.data = 10.0 ** rng.uniform(-8, 0, a.nnz)
    a.sort_indices()
    expected = (a @ a.T.tocsr()).toarray()
    rows, cols = np.divmod(np.arange(24 * 24), 24)
    pick(np.array([0, 1]), np.array([0]), (np.array([0]), np.array([-1])), 1)
    candidates(a, np.arange(40), np.arange(2), np.arange(2), 2)
    every = [np.arange(24)]
    rounded = [symmetric_top_k(a, 23, decimals, -np.inf, every, map) for decimals in (4, 12)]
    return bool(
        np.array_equal(block(a, a.T.tocsr(), np.arange(24)).view(np.uint64), expected.view(np.uint64))
        and np.array_equal(pairs(a, rows, cols).view(np.uint64), expected[rows, cols].view(np.uint64))
        and all(
            np.array_equal(scores.view(np.uint64), np.round(expected[r, c], decimals).view(np.uint64))
            for (r, c, scores, _), decimals in zip(rounded, (4, 12), strict=True)
        )
    )


def symmetric_top_k(
    a: sparse.csr_matrix, keep: int, decimals: int, min_score: float, groups: list[np.ndarray], run
) -> tuple[np.ndarray, ...]:
    """Each row's `keep` best other rows of a @ a.T (scores rounded to `decimals`, at least
    min_score; ties to the smaller column) and the best score left out, scoring each pair once.
    `groups` of rows (ascending) are worked on apart, by `run` (a map, e.g. over threads)."""
    n = a.shape[0]
    t = a.T.tocsr()
    t.sort_indices()

    def part(rows: np.ndarray) -> tuple[np.ndarray, ...]:  # from empty lists
        best_s, best_c = np.full((n, keep), -np.inf), np.full((n, keep), -1, np.int64)
        count, rest = np.zeros(n, np.int64), np.full(n, -1.0)
        _symmetric(
            a.indptr,
            a.indices,
            a.data,
            t.indptr,
            t.indices,
            t.data,
            np.asarray(rows, np.int64),
            10.0**decimals,
            min_score,
            best_s,
            best_c,
            count,
            rest,
        )
        return best_s, best_c, count, rest

    parts = list(run(part, groups))
    for more in parts[1:]:
        _merge(*parts[0], *more)
    best_s, best_c, count, rest = parts[0]
    listed = np.arange(keep) < count[:, None]
    return np.repeat(np.arange(n), count), best_c[listed], best_s[listed], rest
