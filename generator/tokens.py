"""What related papers read of each paper: word stems and bigrams, counted per paper.

A paper's text is its title (counted TITLE_WEIGHT times), its abstract (Markdown reduced to
plain text) and its tags. Words are folded to ASCII letters and digits; stopwords, numbers
and words shorter than MIN_LENGTH are dropped; the rest are stemmed (`stem`). Two kept words
next to each other form a bigram ("low rank") when only spaces, hyphens, dashes, quotes or
emphasis marks separate them, unless that splits a hyphenated word: "supervised fine-tuning"
gives "fine tuning" but not "supervised fine", "Low-Rank Adaptation" "low rank" but not "rank
adaptation". Stems in BOUND count only within bigrams.

Besides those features, each paper's surface forms (the lowercase words, and the bigrams as
written: "low-rank") and spellings (a word's case, where its case says something: not at
the start of a title word or sentence) are counted, to show each term the way the catalogue
writes it most.

`tokenise` works on a whole batch at once: each text is split into words by one regex, each
distinct word and gap is looked at once, and the rest is numpy over all the words of the
batch. A previous `Tokens` gives the rows of papers whose text did not change.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

TITLE_WEIGHT = 2
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

_SPLIT = re.compile(r"([A-Za-z0-9]+)")  # text -> [gap, word, gap, word, ..., gap]
_JOINER = re.compile(r"[\s\-*_`'\u2010-\u2013]*")  # what may separate the two words of a bigram
_SENTENCE_END = re.compile(r"[.!?:;][\s\W]*")  # a gap after which a capital says nothing
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_REF = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.M)
_URL = re.compile(r"<(?:https?|ftp|mailto):[^>]*>|\b(?:https?|ftp)://\S+|\bwww\.\S+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HTML_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True, slots=True)
class Text:
    """What related papers read of a paper (a Paper has these fields too)."""

    slug: str
    title: str
    body_md: str
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Known:
    """A paper whose text is the one a row of the last Tokens counted: its slug and source
    (see _source), as that row has them; tokenise reuses the row without the text."""

    slug: str
    source: str


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
        text = _HTML_TAG.sub(" ", text)
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


class Stems(dict):
    """Lowercase word -> stem, or "" for words that are dropped; computed on first use."""

    def __missing__(self, lower: str) -> str:
        keep = len(lower) >= MIN_LENGTH and not lower.isdigit() and lower not in STOPWORDS
        value = self[lower] = stem(lower) if keep else ""
        return value


class _Ids(dict):
    """Feature key -> column number, numbered in order of first use."""

    def __missing__(self, key: str) -> int:
        value = self[key] = len(self)
        return value


@dataclass(frozen=True, slots=True)
class Table:
    """Counts of strings per paper, as the arrays of a CSR matrix over `vocab`."""

    vocab: tuple[str, ...]
    indptr: np.ndarray  # int64: row i is indices[indptr[i]:indptr[i + 1]]
    indices: np.ndarray  # int32 positions in vocab
    counts: np.ndarray  # int32

    def row(self, i: int) -> dict[str, int]:
        span = slice(self.indptr[i], self.indptr[i + 1])
        return {
            self.vocab[j]: c
            for j, c in zip(self.indices[span].tolist(), self.counts[span].tolist(), strict=True)
        }

    def totals(self) -> Counter[str]:
        """Each string's count over all papers."""
        sums = np.bincount(self.indices, weights=self.counts, minlength=len(self.vocab))
        return Counter({self.vocab[j]: int(sums[j]) for j in np.flatnonzero(sums).tolist()})

    def frequencies(self) -> np.ndarray:
        """In how many papers each string occurs."""
        return np.bincount(self.indices, minlength=len(self.vocab))


@dataclass(frozen=True, slots=True)
class Tokens:
    """What the vectors are made of, per paper (rows sorted by slug)."""

    slugs: tuple[str, ...]
    sources: tuple[str, ...]  # a digest of each paper's title, abstract and tags
    features: Table
    surfaces: Table
    spellings: Table


def _source(paper: Text) -> str:
    text = "\0".join((paper.title, paper.body_md, *paper.tags))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


_TITLE, _PROSE, _TAG = 0, 1, 2  # kinds of text: a tag's words are not spelt (a hyphen splits them)
TABLES = ("features", "surfaces", "spellings")
BATCH = 1000  # papers counted together
CODES = 2**62  # row and string codes are combined into one int64 below this


class _Words(dict):
    """Word as written -> number, with what tokenising needs of each, as string numbers: its
    lowercase form, its stem (-1: dropped), whether the stem counts alone, and how it is spelt
    mid-sentence and at the start of a sentence or title word (lowercase where case says nothing)."""

    def __init__(self, strings: _Ids) -> None:
        super().__init__()
        self.strings, self.stems = strings, Stems()
        self.lower: list[int] = []
        self.stem: list[int] = []
        self.alone: list[bool] = []
        self.plain: list[int] = []
        self.initial: list[int] = []

    def __missing__(self, word: str) -> int:
        lower = word.lower()
        stem = self.stems[lower]
        number = self[word] = len(self.lower)
        self.lower.append(self.strings[lower])
        self.stem.append(self.strings[stem] if stem else -1)
        self.alone.append(stem not in BOUND)
        self.plain.append(self.strings[lower if word == lower else word])
        self.initial.append(self.strings[lower if word[1:] == lower[1:] else word])
        return number

    def arrays(self) -> dict[str, np.ndarray]:
        columns = {
            name: np.asarray(getattr(self, name), np.int64) for name in ("lower", "stem", "plain", "initial")
        }
        return {**columns, "alone": np.asarray(self.alone, bool)}


class _Gaps(dict):
    """Text between two words -> number, with whether a bigram may span it, whether a sentence
    starts after it, and whether it is a hyphen (shown in a bigram's surface form)."""

    def __init__(self) -> None:
        super().__init__()
        self.join: list[bool] = []
        self.start: list[bool] = []
        self.hyphen: list[bool] = []

    def __missing__(self, gap: str) -> int:
        number = self[gap] = len(self.join)
        self.join.append(_JOINER.fullmatch(gap) is not None)
        self.start.append(_SENTENCE_END.search(gap) is not None)
        self.hyphen.append(gap == "-")
        return number


def _texts(paper: Text) -> list[tuple[str, int]]:
    return [(paper.title, _TITLE), (markdown_text(paper.body_md), _PROSE), *((t, _TAG) for t in paper.tags)]


def _count(papers: list[Text], strings: _Ids, words: _Words, gaps: _Gaps) -> tuple[Table, Table, Table]:
    """Features, surfaces and spellings of papers, one row each (the vocabularies: this batch's),
    with what is known of strings, words and gaps (extended here)."""
    word_of, gap_of = words.__getitem__, gaps.__getitem__
    numbers, between = array("q"), array("q")  # each word's number, and the gap's before it
    lengths, kinds, owners = array("q"), array("q"), array("q")  # per text
    for row, paper in enumerate(papers):
        for text, kind in _texts(paper):
            parts = _SPLIT.split(fold(text))
            if len(parts) > 1:
                numbers.extend(map(word_of, parts[1::2]))
                between.extend(map(gap_of, parts[:-1:2]))
                lengths.append(len(parts) // 2)
                kinds.append(kind)
                owners.append(row)
    size = np.frombuffer(lengths, np.int64)
    kind = np.repeat(np.frombuffer(kinds, np.int64), size)
    owner = np.repeat(np.frombuffer(owners, np.int64), size)
    first = np.zeros(len(numbers), bool)  # the first word of a text
    first[np.cumsum(size) - size] = True
    of = {name: column[np.frombuffer(numbers, np.int64)] for name, column in words.arrays().items()}
    gap = np.frombuffer(between, np.int64)
    stem, lower = of["stem"], of["lower"]
    kept = stem >= 0
    bigram = kept & ~first & np.asarray(gaps.join, bool)[gap]
    bigram[1:] &= kept[:-1]
    hyphened = np.asarray(gaps.hyphen, bool)[gap] & ~first  # a hyphen joins the word to the one before
    splits = np.zeros(len(stem), bool)  # a bigram of the word before and this one splits a hyphenated word:
    splits[1:] |= hyphened[:-1]  # the word before is its second half ("instruction-tuned | LLaMA")
    splits[:-1] |= hyphened[1:]  # this word is its first half ("supervised | fine-tuning")
    bigram &= hyphened | ~splits
    names = list(strings)
    single, pair = np.flatnonzero(kept & of["alone"]), np.flatnonzero(bigram)  # pair: a bigram's second word
    at = np.concatenate((single, pair))
    again = np.flatnonzero(kind[at] == _TITLE)
    counted = np.concatenate((np.arange(len(at)), *[again] * (TITLE_WEIGHT - 1)))
    features = _table(
        len(papers),
        names,
        owner[at][counted],
        np.concatenate((stem[single], stem[pair - 1]))[counted],
        np.concatenate((np.full(len(single), -1), stem[pair]))[counted],
        (" ",),
    )
    single = np.flatnonzero(kept)
    hyphen = (kind[pair] != _TAG) & np.asarray(gaps.hyphen, bool)[gap[pair]]
    surfaces = _table(
        len(papers),
        names,
        owner[np.concatenate((single, pair))],
        np.concatenate((lower[single], lower[pair - 1])),
        np.concatenate((np.full(len(single), -1), lower[pair])),
        (" ", "-"),
        np.concatenate((np.zeros(len(single), np.int64), hyphen)),
    )
    spelt = np.flatnonzero(kept & (kind != _TAG))
    initial = ((kind == _TITLE) | first | np.asarray(gaps.start, bool)[gap])[spelt]
    spelling = np.where(initial, of["initial"][spelt], of["plain"][spelt])
    spellings = _table(len(papers), names, owner[spelt], spelling, np.full(len(spelt), -1), ("",))
    return features, surfaces, spellings


def _table(rows: int, names: list[str], owner, first, second, joiners: tuple[str, ...], joiner=0) -> Table:
    """A Table of `rows` rows: row owner[i] counts once the string names[first[i]], or where
    second[i] >= 0, names[first[i]] + joiners[joiner[i]] + names[second[i]]."""
    width = len(names) + 1
    code = (first * width + second + 1) * len(joiners) + joiner
    span, numbered = int(code.max(initial=-1)) + 1, None
    if rows * span >= CODES:  # too large to combine with a row number: number the codes first
        numbered, code = np.unique(code, return_inverse=True)
        span, code = len(numbered), code.ravel()
    cells, counts = np.unique(owner * span + code, return_counts=True)  # sorted by row, then code
    row, code = np.divmod(cells, max(span, 1))
    if numbered is not None:
        code = numbered[code]
    distinct = np.unique(code)
    joined, between = np.divmod(distinct, len(joiners))
    x, y = np.divmod(joined, width)
    vocab = tuple(
        names[a] if b == 0 else names[a] + joiners[j] + names[b - 1]
        for a, b, j in zip(x.tolist(), y.tolist(), between.tolist(), strict=True)
    )
    indptr = np.searchsorted(row, np.arange(rows + 1)).astype(np.int64)
    return Table(vocab, indptr, np.searchsorted(distinct, code).astype(np.int32), counts.astype(np.int32))


def _joined(previous: Table | None, batches: list[Table], rows: list[int | None]) -> Table:
    """A Table whose row i is previous's row rows[i], or (None) the next row of the batches, in
    order; its vocabulary cut down to the strings still counted."""
    ids = _Ids()
    if previous is not None:
        ids.update(zip(previous.vocab, range(len(previous.vocab)), strict=True))
    renumbered = [
        np.fromiter(map(ids.__getitem__, t.vocab), np.int32, len(t.vocab))[t.indices] for t in batches
    ]
    lengths = np.concatenate([np.diff(t.indptr) for t in batches] or [np.zeros(0, np.int64)])
    new = Table(  # the batches' rows one after the other, numbered as `ids`
        (),
        np.concatenate(([0], np.cumsum(lengths))).astype(np.int64),
        np.concatenate(renumbered or [np.zeros(0, np.int32)]),
        np.concatenate([t.counts for t in batches] or [np.zeros(0, np.int32)]),
    )
    sources = (previous, new)
    runs: list[list] = []  # [source, first row, row after the last]
    fresh = 0
    for row in rows:
        source, at = (1, fresh) if row is None else (0, row)
        fresh += row is None
        if runs and runs[-1][0] == source and runs[-1][2] == at:
            runs[-1][2] += 1
        else:
            runs.append([source, at, at + 1])
    parts = [(sources[s], slice(sources[s].indptr[a], sources[s].indptr[b]), a, b) for s, a, b in runs]
    indices = np.concatenate([t.indices[span] for t, span, _, _ in parts] or [np.zeros(0, np.int32)])
    counts = np.concatenate([t.counts[span] for t, span, _, _ in parts] or [np.zeros(0, np.int32)])
    lengths = np.concatenate(
        [np.diff(t.indptr[a : b + 1]) for t, _, a, b in parts] or [np.zeros(0, np.int64)]
    )
    indptr = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    vocab = list(ids)
    used = np.bincount(indices, minlength=len(vocab)) > 0
    if not used.all():
        indices = (np.cumsum(used) - 1).astype(np.int32)[indices]
        vocab = [key for key, use in zip(vocab, used.tolist(), strict=True) if use]
    return Table(tuple(vocab), indptr, indices, counts)


def tokenise(papers: Iterable[Text | Known], previous: Tokens | None = None) -> tuple[Tokens, list[int]]:
    """Tokens of papers, and the rows read anew: rows of `previous` are reused where unchanged
    (a Known paper must have one)."""
    ordered = sorted(papers, key=lambda p: p.slug)
    sources = [p.source if type(p) is Known else _source(p) for p in ordered]
    known = {}
    if previous is not None:
        known = {pair: row for row, pair in enumerate(zip(previous.slugs, previous.sources, strict=True))}
    rows = [known.get(pair) for pair in zip((p.slug for p in ordered), sources, strict=True)]
    fresh = [i for i, row in enumerate(rows) if row is None]
    if any(type(ordered[i]) is Known for i in fresh):
        raise ValueError("a Known paper without its row in the previous tokens")
    strings, gaps = _Ids(), _Gaps()
    words = _Words(strings)
    batches = [  # a batch's arrays take about 150 bytes per word: memory stays small
        _count([ordered[i] for i in fresh[start : start + BATCH]], strings, words, gaps)
        for start in range(0, len(fresh), BATCH)
    ]
    tables = [
        _joined(previous and getattr(previous, name), [b[t] for b in batches], rows)
        for t, name in enumerate(TABLES)
    ]
    return Tokens(tuple(p.slug for p in ordered), tuple(sources), *tables), fresh
