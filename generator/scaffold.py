"""`new`: scaffold one correctly formatted paper file from command-line flags."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from . import importer
from .errors import BuildFailed, ContentError, UsageError
from .importer import Candidate

LABEL = "new paper"  # where problems are reported: no file yet


def split_authors(values: list[str]) -> tuple[str, ...]:
    """`--authors "A. One; B. Two"` or repeated `--author`: one name each, in order."""
    names: list[str] = []
    for value in values:
        sep = ";" if ";" in value else (" and " if " and " in value else None)
        names += [n.strip() for n in (value.split(sep) if sep else [value]) if n.strip()]
    return tuple(names)


def new_paper(
    root: Path,
    *,
    title: str,
    abstract: str,
    authors: list[str] = (),
    topics: list[str] = (),
    tags: list[str] = (),
    date: str | None = None,
    arxiv: str | None = None,
    doi: str | None = None,
    url: str | None = None,
    pdf: str | None = None,
    code: str | None = None,
    journal: str | None = None,
    proceedings: str | None = None,
    added: str | None = None,
    dry_run: bool = False,
    today: dt.date | None = None,
    abstract_error: str = "",
) -> tuple[str, str]:
    """Write content/papers/<slug>.md; refuse a duplicate. Returns (path, file text).

    Every problem is reported at once: those of the flags themselves (no title, no abstract or
    `abstract_error`, why it could not be read; a bad --added) with those of the file they
    would make."""
    problems: list[ContentError] = []
    if not title.strip():
        problems.append(ContentError(LABEL, 0, 0, "--title is required and may not be empty"))
    if abstract_error or not abstract.strip():
        problems.append(
            ContentError(
                LABEL,
                0,
                0,
                abstract_error or "no abstract",
                "pass --abstract-file FILE, or pipe the abstract on stdin",
            )
        )
    try:
        added = importer.check_added(added, today)
    except UsageError as bad:
        problems.append(ContentError(LABEL, 0, 0, str(bad)))
        added = importer.check_added(None, today)  # today's, to check the rest
    if not title.strip():  # nothing to make a file of
        raise BuildFailed(problems)
    candidate = Candidate(
        title=title.strip(),
        abstract=abstract,
        authors=split_authors(list(authors)),
        date=date,
        arxiv=arxiv,
        doi=doi,
        url=url,
        pdf=pdf,
        code=code,
        journal=(journal or "").strip() or None,
        proceedings=(proceedings or "").strip() or None,
        topics=tuple(topics),
        tags=tuple(tags),
    )
    try:
        report, files = importer.add_papers(
            root,
            [candidate],
            source=None,
            added=added,
            dry_run=dry_run or bool(problems),
            refuse_duplicates=True,
            label=LABEL,
        )
    except BuildFailed as failed:
        raise BuildFailed(problems + failed.errors) from None
    if problems:
        raise BuildFailed(problems)
    ((slug, text),) = files.items()
    return report.written[0], text
