"""Related papers: the nearest neighbours of every paper by TF-IDF cosine similarity.

Each paper becomes a sparse vector over word stems and bigrams of its title (counted twice),
its abstract (Markdown reduced to plain text) and its tags. Terms found in a single paper
cannot be shared, and terms in more than half of the papers say nothing (unless only two
papers have them: in a catalogue of two or three papers those are exactly the shared terms),
so both are dropped. Weights are sublinear tf (1 + log tf) times smooth idf
(log((1 + n) / (1 + df)) + 1), and rows are L2-normalised, so a sparse dot product is the cosine.

Similarities are computed a chunk of rows at a time (chunk x all papers: one sparse product,
a dense chunk x n block) on a few threads, and each row's top k picked by partial sorting:
memory stays O(chunk x n) per thread, never n x n, and 10,000 papers take seconds. Each neighbour comes
with the shared terms that contributed most to the similarity (the product of the two papers'
weights), spelt the way the catalogue spells them most ("LoRA", "adapters", "low-rank").

Everything is deterministic: papers are sorted by slug first, scores are rounded to four
decimals before ranking, ties go to the smaller slug, and score(a, b) == score(b, a) exactly.
"""

from __future__ import annotations

import html
import os
import re
import unicodedata
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .model import Paper

K = 5
MIN_SCORE = 0.05
MAX_DF = 0.5  # terms in more than this share of papers are ignored (unless in just two)
TITLE_WEIGHT = 2
REASON_TERMS = 3
CANDIDATES = 8  # shared terms considered for a reason, best first
REASON_BATCH = 4096  # pairs whose reasons are worked out together
CHUNK = 512  # rows per similarity chunk at most...
CHUNK_CELLS = 1_000_000  # ...and at most this many chunk x n scores (8 MB) per thread
DECIMALS = 4
MIN_LENGTH = 3

STOPWORDS = frozenset(
    """
    a about above across after again against all almost along also although always am among an and
    another any are around as at be because been before being below between both but by can cannot
    could did do does doing done down during each either else even ever every few for from further
    had has have having he her here hers herself him himself his how however i if in into is it its
    itself just less let like made make makes many may me might more most much must my myself near
    neither no nor not now of off often on once one only onto or other others otherwise our ours
    ourselves out over own per perhaps rather same several shall she should since so some such than
    that the their theirs them themselves then there therefore these they this those though through
    thus to too toward towards under until up upon us use used uses using very via was we well were
    what when where whether which while who whom whose why will with within without would yet you
    your yours yourself yourselves
    et al etc ie eg vs
    paper papers propose proposes proposed present presents presented introduce introduces
    introduced show shows shown demonstrate demonstrates study studies work works approach
    approaches method methods result results novel new based further furthermore moreover
    additionally specifically particular especially significantly across compared existing
    able achieve achieves achieved achieving best better closely different effective effectively
    enable enables idea improve improves improved improving include includes including
    introducing perform performs performed variety various wide widely first second third two
    three four five given good find finds found hinder inspired key main often interestingly
    tend tends provide provides provided create creates created hoc
    suggest suggests suggesting suggested unlike despite instead aim aims allow allows allowing
    observe observes observed reveal reveals revealed explore explores explored investigate
    investigates investigated conduct conducts conducted consider considers considered
    evaluate evaluates evaluated leverage leverages leveraging address addresses addressing
    remain remains remaining recent recently level levels set sets
    """.split()
)

# Word stems too vague alone ("pre", "low") that make good bigrams ("pre-trained", "low-rank").
BOUND = frozenset("pre non sub multi self cross semi post anti inter intra large small high low".split())

Related = tuple[tuple[str, float, tuple[str, ...]], ...]

_WORD = re.compile(r"[A-Za-z0-9]+")
_GAP_WORD = re.compile(r"([^A-Za-z0-9]*)([A-Za-z0-9]+)")
_JOINER = re.compile(r"[\s\-*_`'\u2010-\u2013]*")  # what may separate the two words of a bigram
_SENTENCE_END = re.compile(r"[.!?:;][\s\W]*")  # a gap after which a capital says nothing
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_REF = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.M)
_URL = re.compile(r"<(?:https?|ftp|mailto):[^>]*>|\b(?:https?|ftp)://\S+|\bwww\.\S+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TAG = re.compile(r"<[^>]+>")
_SEPARATOR = re.compile(r"[ -]")
_JOIN, _START = 1, 2  # flags of a gap: bigram allowed across it; a sentence starts after it


@dataclass(frozen=True, slots=True)
class Vectors:
    """The TF-IDF matrix of a catalogue: row i is `slugs[i]` (sorted), column j is `terms[j]`."""

    slugs: tuple[str, ...]
    matrix: sparse.csr_matrix  # float64, L2-normalised rows, sorted indices
    terms: tuple[str, ...]  # display form of each column
    stems: tuple[frozenset[str], ...]  # the stems each column is made of (one, or two for bigrams)


class _Combining(dict):
    """A str.translate table that deletes combining marks; filled in as characters are seen."""

    def __missing__(self, code: int) -> int | None:
        value = self[code] = None if unicodedata.combining(chr(code)) else code
        return value


_COMBINING = _Combining()


def fold(text: str) -> str:
    """Accents folded away (NFKD, combining marks dropped); case kept."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed if decomposed.isascii() else decomposed.translate(_COMBINING)


def markdown_text(md: str) -> str:
    """Plain text of a Markdown abstract: link text kept; URLs, e-mail and HTML tags dropped."""
    text = md
    if "]:" in text:
        text = _MD_REF.sub(" ", text)
    if "](" in text:
        text = _MD_LINK.sub(r"\1", text)
    if "://" in text or "www." in text:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _EMAIL.sub(" ", text)
    if "<" in text:
        text = _TAG.sub(" ", text)
    return html.unescape(text) if "&" in text else text


def stem(word: str) -> str:
    """A light, deterministic suffix stripper for a lowercase word: plurals, then -ing or -ed."""
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "xes", "ches", "shes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        word = word[:-1]
    if word.endswith("ing") and len(word) >= 6 and any(c in "aeiouy" for c in word[:-3]):
        return word[:-3]
    if word.endswith("ed") and not word.endswith("eed") and len(word) >= 5:
        return word[:-2]
    return word


class _Stems(dict):
    """Lowercase word -> stem, or "" for words that are dropped; computed on first use."""

    def __missing__(self, lower: str) -> str:
        keep = len(lower) >= MIN_LENGTH and not lower.isdigit() and lower not in STOPWORDS
        value = self[lower] = stem(lower) if keep else ""
        return value


class _Gaps(dict):
    """Text between two words -> _JOIN and/or _START flags; computed on first use."""

    def __missing__(self, gap: str) -> int:
        value = self[gap] = (_JOIN if _JOINER.fullmatch(gap) else 0) | (
            _START if _SENTENCE_END.search(gap) else 0
        )
        return value


class _Ids(dict):
    """Feature key -> column number, numbered in order of first use."""

    def __missing__(self, key: str) -> int:
        value = self[key] = len(self)
        return value


class _Tokeniser:
    """Turns texts into feature keys while counting surface forms and spellings for display."""

    def __init__(self) -> None:
        self.stems = _Stems()
        self.gaps = _Gaps()
        self.surfaces: Counter[str] = Counter()  # lowercase word or "word word" -> occurrences
        self.spellings: Counter[str] = Counter()  # word as written -> occurrences that show its case
        self.tag_cache: dict[str, tuple[list[str], Counter[str]]] = {}
        self.tag_uses: Counter[str] = Counter()

    def tag_features(self, tag: str) -> list[str]:
        """Features of a tag; a hyphen separates words. Computed once per distinct tag."""
        self.tag_uses[tag] += 1
        if tag not in self.tag_cache:
            surfaces: Counter[str] = Counter()
            self.tag_cache[tag] = (self.features(tag, case="none", surfaces=surfaces), surfaces)
        return self.tag_cache[tag][0]

    def all_surfaces(self) -> Counter[str]:
        """Surface counts of all texts, tags counted once per use."""
        total = Counter(self.surfaces)
        for tag, (_, surfaces) in self.tag_cache.items():
            for surface, count in surfaces.items():
                total[surface] += count * self.tag_uses[tag]
        return total

    def features(self, text: str, *, case: str, surfaces: Counter[str] | None = None) -> list[str]:
        """Stems and "stem stem" bigrams of one text; case is "title", "prose" or "none" (tags).

        Surface forms are counted in `surfaces` (default: self.surfaces).
        """
        counter = self.surfaces if surfaces is None else surfaces
        pairs = _GAP_WORD.findall(fold(text))
        if not pairs:
            return []
        words = [w for _, w in pairs]
        lowers = [w.lower() for w in words]
        keys = list(map(self.stems.__getitem__, lowers))
        flags = list(map(self.gaps.__getitem__, [g for g, _ in pairs]))
        flags[0] = _START
        kept = [i for i, key in enumerate(keys) if key]
        joined = [i for i in kept if i and flags[i] & _JOIN and keys[i - 1]]
        counter.update([lowers[i] for i in kept])
        # "low-rank" stays hyphenated for display; in tags, a hyphen only separates words.
        hyphen = [case != "none" and pairs[i][0] == "-" for i in joined]
        counter.update(
            [f"{lowers[i - 1]}{'-' if h else ' '}{lowers[i]}" for i, h in zip(joined, hyphen, strict=True)]
        )
        if case != "none":
            # Title case and sentence-initial capitals say nothing about how a word is spelt.
            initial = [True] * len(words) if case == "title" else [bool(f & _START) for f in flags]
            plain = [words[i] == lowers[i] or (initial[i] and words[i][1:] == lowers[i][1:]) for i in kept]
            self.spellings.update([lowers[i] if p else words[i] for i, p in zip(kept, plain, strict=True)])
        unigrams = [keys[i] for i in kept if keys[i] not in BOUND]
        return unigrams + [f"{keys[i - 1]} {keys[i]}" for i in joined]


def _paper_features(tokeniser: _Tokeniser, paper: Paper) -> list[str]:
    title = tokeniser.features(paper.title, case="title")
    body = tokeniser.features(markdown_text(paper.body_md), case="prose")
    tags = [f for tag in paper.tags for f in tokeniser.tag_features(tag)]
    return title * TITLE_WEIGHT + body + tags


def _display(keys: Iterable[str], tokeniser: _Tokeniser) -> dict[str, str]:
    """Feature key -> most frequent surface form (ties: alphabetical) in its most common spelling."""
    by_key: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for surface, count in tokeniser.all_surfaces().items():
        by_key[" ".join(tokeniser.stems[w] for w in _SEPARATOR.split(surface))].append((-count, surface))
    spelt: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for written, count in tokeniser.spellings.items():
        spelt[written.lower()].append((-count, written))
    spelling = {lower: min(forms)[1] for lower, forms in spelt.items()}
    out = {}
    for key in keys:
        surface = min(by_key[key])[1]
        out[key] = _WORD.sub(lambda m: spelling.get(m.group(), m.group()), surface)
    return out


def vectorise(papers: Iterable[Paper]) -> Vectors:
    """TF-IDF vectors of papers (rows sorted by slug), with display forms of the kept terms."""
    ordered = sorted(papers, key=lambda p: p.slug)
    n = len(ordered)
    tokeniser = _Tokeniser()
    vocab = _Ids()
    indptr, indices, counts = [0], array("q"), array("q")  # compact: no int objects
    for paper in ordered:
        counted = Counter(_paper_features(tokeniser, paper))
        indices.extend(map(vocab.__getitem__, counted))
        counts.extend(counted.values())
        indptr.append(len(indices))
    cols = np.asarray(indices, dtype=np.int64)
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    df = np.bincount(cols, minlength=len(vocab))
    keep = (df >= 2) & ((df <= MAX_DF * n) | (df == 2))
    keys = sorted(key for key, j in vocab.items() if keep[j])  # columns in key order
    old = np.asarray([vocab[key] for key in keys], dtype=np.int64)
    column = np.full(len(vocab), -1, dtype=np.int64)
    column[old] = np.arange(len(keys))
    mask = keep[cols]
    rows, cols = rows[mask], column[cols[mask]]
    tf = 1.0 + np.log(np.asarray(counts, dtype=np.float64)[mask])
    idf = np.log((1.0 + n) / (1.0 + df[old])) + 1.0
    weights = tf * idf[cols]
    norms = np.sqrt(np.bincount(rows, weights=weights * weights, minlength=n))
    weights /= norms[rows]  # every kept entry's row has a positive norm
    matrix = sparse.csr_matrix((weights, (rows, cols)), shape=(n, len(keys)))
    matrix.sort_indices()
    display = _display(keys, tokeniser)
    return Vectors(
        tuple(p.slug for p in ordered),
        matrix,
        tuple(display[key] for key in keys),
        tuple(frozenset(key.split(" ")) for key in keys),
    )


def _chunk_top_k(
    matrix: sparse.csr_matrix, transposed: sparse.csr_matrix, start: int, stop: int, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top k of rows start..stop against all rows: one sparse product, a dense chunk x n block."""
    scores = (matrix[start:stop] @ transposed).toarray()
    np.round(scores, DECIMALS, out=scores)
    local = np.arange(stop - start)
    scores[local, start + local] = -1.0  # never the paper itself
    negated = np.negative(scores)
    negated.partition(k - 1, axis=1)
    floor = np.maximum(-negated[:, k - 1], MIN_SCORE)  # the k-th best score of each row
    del negated
    rows, cols = np.nonzero(scores >= floor[:, None])  # the top k, and anything tied with the k-th
    values = scores[rows, cols]
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    chosen = np.arange(len(rows)) - np.searchsorted(rows, rows) < k  # rank within the row
    return rows[chosen] + start, cols[chosen], np.minimum(values[chosen], 1.0)


def top_k(
    matrix: sparse.csr_matrix, k: int = K, chunk: int | None = None, workers: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, columns, scores) of each row's k best other rows (score >= MIN_SCORE), best first.

    Rows must be L2-normalised with sorted indices, so that score(i, j) == score(j, i) exactly.
    Scores are cosines rounded to DECIMALS; ties go to the smaller column index. Chunks of
    `chunk` rows (default: CHUNK, fewer for large n) run on `workers` threads (default: up to
    4 CPUs); scipy and numpy release the GIL.
    """
    n = matrix.shape[0]
    k = min(k, n - 1)
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    transposed = matrix.T.tocsr()
    chunk = chunk or max(16, min(CHUNK, CHUNK_CELLS // n))
    starts = range(0, n, chunk)
    workers = workers or min(4, os.cpu_count() or 1, len(starts))
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(lambda s: _chunk_top_k(matrix, transposed, s, min(s + chunk, n), k), starts))
    rows, cols, scores = (np.concatenate(column) for column in zip(*parts, strict=True))
    return rows, cols, scores


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


def _reasons(vectors: Vectors, rows: np.ndarray, cols: np.ndarray) -> list[tuple[str, ...]]:
    """For each pair, the shared terms with the largest products of the two papers' weights."""
    names = _name_ranks(vectors.terms)
    out: list[tuple[str, ...]] = []
    for start in range(0, len(rows), REASON_BATCH):  # batches keep memory small
        batch = slice(start, start + REASON_BATCH)
        products = vectors.matrix[rows[batch]].multiply(vectors.matrix[cols[batch]]).tocsr()
        products.eliminate_zeros()
        pair = np.repeat(np.arange(products.shape[0]), np.diff(products.indptr))
        order = _ranking(pair, products.data, names[products.indices])
        pair, term = pair[order], products.indices[order]
        head = np.arange(len(pair)) - np.searchsorted(pair, pair) < CANDIDATES
        pair, term = pair[head], term[head].tolist()
        bounds = np.searchsorted(pair, np.arange(products.shape[0] + 1)).tolist()
        for p in range(products.shape[0]):
            picked = _pick(term[bounds[p] : bounds[p + 1]], vectors.stems)
            out.append(tuple(vectors.terms[j] for j in picked))
    return out


def related_papers(papers: Iterable[Paper], k: int = K) -> dict[str, Related]:
    """slug -> up to k (other slug, cosine, reason terms), most similar first."""
    vectors = vectorise(papers)
    result: dict[str, list[tuple[str, float, tuple[str, ...]]]] = {s: [] for s in vectors.slugs}
    rows, cols, scores = top_k(vectors.matrix, k)
    if len(rows):
        reasons = _reasons(vectors, rows, cols)
        for r, c, score, reason in zip(rows.tolist(), cols.tolist(), scores.tolist(), reasons, strict=True):
            result[vectors.slugs[r]].append((vectors.slugs[c], score, reason))
    return {slug: tuple(items) for slug, items in result.items()}


def reason_text(terms: Sequence[str]) -> str:
    """A human-readable reason: "shared: a, b, c"."""
    return "shared: " + ", ".join(terms)
