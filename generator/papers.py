"""Per-paper work: validate one file, then its abstract to sanitised HTML and plain text.

Results are remembered by the file's path and bytes (and the topics it was checked
against), and the files that need the work are spread over the cores. Cross-file checks
(duplicates, tag spellings) run afterwards, on all the papers.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable

from . import duplicates, markup, parallel, search
from .cache import Cache, digest
from .errors import ContentError
from .load import RawDocument
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


def _pickled_if_valid(result: tuple[Paper | None, list[ContentError]]):
    """A valid paper's result pickled, as the cache keeps it (the parent would otherwise unpickle
    it from the worker and pickle it again: 0.3 s at 10,000 papers); an invalid one as it is."""
    if result[0] is not None and not result[1]:
        return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    return result


def _checked(result):
    """A remembered (paper, errors) as process_documents keeps them, or None."""
    if result is not None and len(result) == 2 and isinstance(result[0], Paper) and result[1] == []:
        return result
    return None


def process_documents(
    docs: list[RawDocument],
    topics: tuple[Topic, ...],
    cache: Cache,
    jobs: int | None = None,
    report: Callable[[int, int], None] | None = None,
    on_changed: Callable[[], None] | None = None,
) -> tuple[list[Paper], list[ContentError]]:
    """Papers (with body_html, body_text and digest) of the valid documents, and their errors.

    Cross-file checks are not included (see validate.cross_file_errors). `on_changed` is
    called before the documents not in the cache (new or edited ones) are processed, if any.
    """
    topic_index = TopicIndex.of(topics)
    topics_key = digest(repr(topics))
    keys = [digest(doc.path, doc.text, topics_key) for doc in docs]
    if on_changed and not all(cache.has("document", key) for key in keys):
        on_changed()  # told before unpickling the rest: at 10,000 papers, half a second sooner
        on_changed = None
    results = [_checked(cache.get("document", key, tuple)) for key in keys]
    todo = [i for i, result in enumerate(results) if result is None]
    if todo and on_changed:  # a damaged entry
        on_changed()
    converter = markup.make_converter()
    done = parallel.map_ordered(
        lambda i: _pickled_if_valid(_process(docs[i], topic_index, converter, keys[i])), todo, jobs, report
    )
    for i, result in zip(todo, done, strict=True):
        if isinstance(result, bytes):
            pickled, result = result, pickle.loads(result)
            cache.put("document", keys[i], result, pickled)
        results[i] = result
    papers = [paper for paper, _ in results if paper is not None]
    errors = [error for _, errs in results for error in errs]
    return papers, errors
