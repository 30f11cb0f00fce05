"""Per-paper work: validate one file, then its abstract to sanitised HTML and plain text.

Results are remembered by the file's path and bytes (and the topics it was checked
against), and the files that need the work are spread over the cores. Cross-file checks
(duplicates, tag spellings) run afterwards, on all the papers.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
from collections.abc import Callable

from . import duplicates, markup, parallel, search
from .cache import Cache, digest
from .errors import ContentError
from .load import RawDocument, read_again, text_key
from .model import Paper, Topic
from .validate import TopicIndex, validate_document


def _process(
    doc: RawDocument, topics: TopicIndex, converter, key: str
) -> tuple[Paper | None, list[ContentError]]:
    paper, errors = validate_document(doc, topics)
    if paper is None or errors:
        return paper, errors
    html = markup.render_markdown(converter, paper.body_md)
    text = markup.plain_text(html)
    return dataclasses.replace(
        paper,
        body_html=html,
        body_text=text,
        body_terms=search.abstract_terms(text),
        digest=key,
        identity=duplicates.paper_identity(paper),
    ), errors


def _valid(result: tuple[Paper | None, list[ContentError]]) -> bool:
    return result[0] is not None and not result[1]


def _checked(result):
    """A remembered (paper, errors) as process_documents keeps them, or None."""
    if result is not None and len(result) == 2 and isinstance(result[0], Paper) and result[1] == []:
        return result
    return None


def _keys(docs: list[RawDocument], topics_key: str, known: dict | None) -> list[str]:
    """Each document's cache key: a digest of its text key (see load.text_key) and the
    topics; with `known` (updated to these documents), digested only for a document not
    seen last time."""
    if known is None:
        return [digest(doc.key or text_key(doc.path, doc.text), topics_key) for doc in docs]
    keys, seen = [], {}
    for doc in docs:
        parts = (doc.key or text_key(doc.path, doc.text), topics_key)
        key = known.get(parts) or digest(*parts)
        seen[parts] = key
        keys.append(key)
    known.clear()
    known.update(seen)
    return keys


def process_documents(
    docs: list[RawDocument],
    topics: tuple[Topic, ...],
    cache: Cache,
    jobs: int | None = None,
    report: Callable[[int, int], None] | None = None,
    on_changed: Callable[[], None] | None = None,
    known_keys: dict | None = None,
    on_early: Callable[[list[tuple[str, str]], list[Paper]], None] | None = None,
) -> tuple[list[Paper], list[ContentError]]:
    """Papers (with body_html, body_text and digest) of the valid documents, and their errors.

    Cross-file checks are not included (see validate.cross_file_errors). `on_changed` is
    called before the documents not in the cache (new or edited ones) are processed, if any.
    Those are processed first; if there are any and all are valid, `on_early` is then given every
    document's (slug, digest) and their papers, before the others are unpickled.
    `known_keys`, kept by a long-lived process, remembers each document's cache key.
    """
    topic_index, docs = TopicIndex.of(topics), list(docs)
    topics_key = digest(repr(topics))
    keys = _keys(docs, topics_key, known_keys)
    results: list[tuple[Paper | None, list[ContentError]] | None] = [None] * len(docs)
    missing = [i for i, key in enumerate(keys) if not cache.has("document", key)]
    if missing and on_changed:
        on_changed()  # told before anything is read or unpickled: at 10,000 papers, half a second sooner
        on_changed = None
    converter, here = markup.make_converter(), os.getpid()

    def process(i: int):
        """A worker hands a valid result back pickled, as the cache keeps it: the parent would
        otherwise unpickle it and pickle it again (0.3 s at 10,000 papers)."""
        result = _process(docs[i], topic_index, converter, keys[i])
        if os.getpid() != here and _valid(result):
            return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        return result

    def work(todo: list[int]) -> None:
        """Process these documents (a file not read, as the cache had its entry: read now)."""
        for i in todo:
            if docs[i].text is None:
                doc, error = read_again(docs[i])
                if doc is None:
                    results[i] = (None, [error])
                else:
                    docs[i], keys[i] = doc, digest(doc.key, topics_key)  # the file may have changed
        todo = [i for i in todo if results[i] is None]
        for i, result in zip(todo, parallel.map_ordered(process, todo, jobs, report), strict=True):
            pickled = None
            if isinstance(result, bytes):
                pickled, result = result, pickle.loads(result)
            results[i] = result
            if _valid(result):
                cache.put("document", keys[i], result, pickled)

    work(missing)
    if on_early and missing and all(_valid(results[i]) for i in missing):
        on_early(
            [(doc.stem, key) for doc, key in zip(docs, keys, strict=True)], [results[i][0] for i in missing]
        )
    # Each document's bytes are let go once unpickled: at 10,000 papers they are 63 MB, which
    # later allocations then reuse instead of new pages.
    for i, key in enumerate(keys):
        if results[i] is None:
            results[i] = _checked(cache.get("document", key, tuple, once=True))
    damaged = [i for i, result in enumerate(results) if result is None]
    if damaged and on_changed:
        on_changed()
    work(damaged)
    papers = [paper for paper, _ in results if paper is not None]
    errors = [error for _, errs in results for error in errs]
    return papers, errors
