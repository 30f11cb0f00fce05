"""The two biggest files, updated in place by a process that builds again and again (serve).

search.make_tier makes the abstracts search tier from every abstract: about 3 s of CPU at
10,000 papers, on every edit. `AbstractsTier` keeps the tier's inverted index between builds,
with the JSON of its parts; when some abstracts changed and the papers' number did not, it
moves only the postings of the terms those abstracts gained or lost, and joins the kept parts
again. `PapersJson` keeps each paper's record of papers.json, encoded. The bytes are those of
render.to_json of the whole data made afresh (tested).
"""

from __future__ import annotations

import bisect
import dataclasses
from array import array
from collections import Counter

from .index_writer import write_terms
from .lunr_js import JS_SPACE_RE
from .metadata import paper_record, papers_json
from .model import Catalogue
from .render import JSON_ENCODER, json_object, json_object_parts, to_json
from .search import ABSTRACT_FIELDS, FORMAT, abstract_terms

REBUILD_SHARE = 0.05  # when more of the abstracts than this changed, the tier is made anew
NUMPY_FROM = 500  # documents: a tier of fewer is indexed without numpy (0.05 s to import)
NUMPY_BATCH = 1000  # documents whose terms are split at once


_json = JSON_ENCODER.encode  # render.to_json's encoding, as str


def _text_json(text: str) -> str:
    """A document's text as the tier holds it: as search.make_tier gives it, encoded."""
    return _json(text if text.isascii() else JS_SPACE_RE.sub(" ", text))


def _row(positions: array) -> str:
    """One term's postings as write_terms gives them (one field): [[gaps between positions]]."""
    return "[[" + ",".join(str(b - a) for a, b in zip([0, *positions], positions, strict=False)) + "]]"


class AbstractsTier:
    """The tier of the last `json(inputs)`, kept as its index and the JSON of its parts."""

    def __init__(self, rebuild_share: float | None = None) -> None:
        assert len(ABSTRACT_FIELDS) == 1  # one field: a term's row is one list of positions
        self.rebuild_share = rebuild_share  # None: REBUILD_SHARE
        self.texts: tuple[str, ...] | None = None
        self.terms: list[str] = []  # each document's terms, each after "\n" (search.abstract_terms)
        self.text_json: list[str] = []
        self.postings: dict[str, array] = {}  # term -> positions of the documents that have it
        self.rows: dict[str, str] = {}  # term -> _row(postings[term])
        self.firsts: list[list[str]] = []  # per document: the terms first seen there, in order
        # per document: (term, tf) where tf > 1, in term order (which is `ordered`'s)
        self.repeats: list[tuple[tuple[str, int], ...]] = []
        self.ordered: list[str] = []
        self.where: dict[str, int] = {}  # term -> place in `ordered`
        self.terms_json = ""
        self.tf_json: list[str] = []  # per document: its [position, term, tf] entries

    def json(self, inputs: tuple) -> bytes:
        """The tier's file for search.tier_inputs' abstracts inputs: (texts, known terms)."""
        texts, known = inputs
        old = self.texts
        if old is None or len(old) != len(texts):
            self._make(texts, known)
        else:
            changed = [p for p, (a, b) in enumerate(zip(old, texts, strict=True)) if a is not b and a != b]
            share = REBUILD_SHARE if self.rebuild_share is None else self.rebuild_share
            if len(changed) > share * len(texts):
                self._make(texts, known)
            elif changed:
                self._change(changed, texts, known)
        return self._assemble()

    def _make(self, texts: tuple[str, ...], known: tuple) -> None:
        self.texts = tuple(texts)
        self.terms = [abstract_terms(t) if k is None else k for t, k in zip(texts, known, strict=True)]
        self.text_json = list(map(_text_json, texts))
        if len(self.terms) >= NUMPY_FROM:
            self._index_with_numpy()
        else:
            self._index()
        self._order()

    def _index(self) -> None:
        """postings, rows, firsts and repeats of self.terms, document by document."""
        postings: dict[str, list[int]] = {}
        self.firsts, self.repeats = [], []
        for position, terms in enumerate(self.terms):
            counts = Counter(terms.split("\n")[1:])
            first = []
            for term in counts:
                found = postings.get(term)
                if found is None:
                    found = postings[term] = []
                    first.append(term)
                found.append(position)
            self.firsts.append(first)
            self.repeats.append(tuple(sorted((t, tf) for t, tf in counts.items() if tf > 1)))
        self.postings = {term: array("i", found) for term, found in postings.items()}
        self.rows = {term: _row(found) for term, found in self.postings.items()}

    def _index_with_numpy(self) -> None:
        """What _index makes, from every document's terms at once (quicker for many)."""
        import numpy as np  # here: every build imports this module, and a small one needs no numpy

        # Every document's terms in one array of numbers, numbered in order of first use: the
        # terms first seen in a document are then a run of numbers, in the order seen there.
        # Split a batch of documents at a time: a string per term of every document at once
        # took about 100 MB at 10,000 papers.
        number: dict[str, int] = {}
        codes = []
        for start in range(0, len(self.terms), NUMPY_BATCH):
            tokens = "".join(self.terms[start : start + NUMPY_BATCH]).split("\n")[1:]
            for name in dict.fromkeys(tokens):
                number.setdefault(name, len(number))
            codes.append(np.fromiter(map(number.__getitem__, tokens), np.int64, len(tokens)))
        names = list(number)
        width = max(len(names), 1)
        sizes = np.fromiter((t.count("\n") for t in self.terms), np.int64, len(self.terms))
        document = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
        code = np.concatenate(codes) if codes else np.zeros(0, np.int64)
        pairs, tf = np.unique(document * width + code, return_counts=True)  # by document, then term
        del document, code
        document, term = np.divmod(pairs, width)
        by_term = np.argsort(term, kind="stable")  # each term's documents stay in order
        documents = document[by_term].astype(np.int32)
        ends = np.cumsum(np.bincount(term, minlength=len(names))).tolist()
        starts = [0, *ends][: len(names)]
        gaps = documents.copy()
        gaps[1:] -= documents[:-1]
        gaps[starts] = documents[starts]  # a term's first document: from 0
        digits = [str(n) for n in range(int(gaps.max(initial=0)) + 1)]  # quicker than str() of each
        gap_text = list(map(digits.__getitem__, gaps.tolist()))
        self.postings, self.rows = {}, {}
        for name, a, b in zip(names, starts, ends, strict=True):
            self.postings[name] = array("i", documents[a:b].tobytes())
            self.rows[name] = "[[" + ",".join(gap_text[a:b]) + "]]"
        first_in = documents[starts]  # ascending: terms are numbered as first seen
        cuts = np.searchsorted(first_in, np.arange(len(sizes) + 1)).tolist()
        self.firsts = [names[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]
        rank = np.empty(width, np.int64)
        rank[[number[name] for name in sorted(names)]] = np.arange(len(names))
        repeated = np.flatnonzero(tf > 1)
        repeated = repeated[np.argsort(document[repeated] * width + rank[term[repeated]], kind="stable")]
        cuts = np.searchsorted(document[repeated], np.arange(len(sizes) + 1)).tolist()
        entries = list(
            zip(map(names.__getitem__, term[repeated].tolist()), tf[repeated].tolist(), strict=True)
        )
        self.repeats = [tuple(entries[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]

    def _change(self, changed: list[int], texts: tuple[str, ...], known: tuple) -> None:
        texts = tuple(texts)
        terms_changed = False
        for p in changed:
            before = Counter(self.terms[p].split("\n")[1:])
            self.terms[p] = abstract_terms(texts[p]) if known[p] is None else known[p]
            after = Counter(self.terms[p].split("\n")[1:])
            moved = before.keys() ^ after.keys()
            firsts = {p} | {self.postings[t][0] for t in moved if t in self.postings}
            for term in before.keys() - after.keys():
                found = self.postings[term]
                del found[bisect.bisect_left(found, p)]
                if found:
                    self.rows[term] = _row(found)
                else:
                    del self.postings[term], self.rows[term]
                    terms_changed = True
            for term in after.keys() - before.keys():
                found = self.postings.get(term)
                if found is None:
                    found = self.postings[term] = array("i")
                    terms_changed = True
                bisect.insort(found, p)
                self.rows[term] = _row(found)
            firsts |= {self.postings[t][0] for t in moved if t in self.postings}
            for q in firsts:  # the documents where some term is now, or was, first seen
                self.firsts[q] = [t for t in self._distinct(q) if self.postings[t][0] == q]
            self.repeats[p] = tuple(sorted((t, tf) for t, tf in after.items() if tf > 1))
            self.text_json[p] = _text_json(texts[p])
        self.texts = texts
        if terms_changed:
            self._order()
        else:
            for p in changed:
                self.tf_json[p] = self._tf(p)

    def _distinct(self, position: int) -> list[str]:
        return list(dict.fromkeys(self.terms[position].split("\n")[1:]))

    def _order(self) -> None:
        """Place every term in sorted order (after terms came or went)."""
        self.ordered = sorted(self.postings)
        self.where = {term: i for i, term in enumerate(self.ordered)}
        self.terms_json = _json(self.ordered)
        self.tf_json = [self._tf(p) for p in range(len(self.terms))]

    def _tf(self, p: int) -> str:
        where, head = self.where, f"[{p},"
        return ",".join([f"{head}{where[term]},{tf}]" for term, tf in self.repeats[p]])

    def _assemble(self) -> bytes:
        seen = {term: i for i, term in enumerate(t for first in self.firsts for t in first)}
        rows = self.rows
        fixed = write_terms(ABSTRACT_FIELDS, [])  # the members that do not depend on the documents
        index = {key: to_json(value) for key, value in fixed.items()}
        index["documents"] = str(len(self.terms)).encode()
        index["terms"] = self.terms_json.encode()
        index["postings"] = (b"[", ",".join(f"[{seen[t]},{rows[t]}]" for t in self.ordered).encode(), b"]")
        index["tf"] = (b"[[", ",".join(entries for entries in self.tf_json if entries).encode(), b"]]")
        text = (b"[", ",".join(self.text_json).encode(), b"]")
        return json_object({"format": to_json(FORMAT), "index": json_object_parts(index), "text": text})


class PapersJson:
    """papers.json, with each paper's record encoded once while its source file, citation key
    and the site's address stay the same."""

    def __init__(self) -> None:
        self.records: dict[tuple, bytes] = {}

    def json(self, catalogue: Catalogue, abstracts: dict[str, str], keys: dict[str, str]) -> bytes:
        config, kept, records = catalogue.config, self.records, {}
        for p in catalogue.papers:
            key = keys.get(p.slug)
            known = (p.slug, p.digest, key, config.base_url)
            record = kept.get(known) if p.digest else None  # a paper made elsewhere has no digest
            if record is None:
                record = to_json(paper_record(p, config, abstracts[p.slug], key))
            records[known] = record
        self.records = records
        data = papers_json(dataclasses.replace(catalogue, papers=()), abstracts, keys)
        members = {name: to_json(value) for name, value in data.items()}
        members["papers"] = (b"[", b",".join(records.values()), b"]")
        return json_object(members)
