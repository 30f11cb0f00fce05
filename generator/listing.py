"""Parse a daily-papers listing (a text dump of the page) into title/abstract entries.

The format: page chrome lines ("Get trending papers…", "Subscribe", …), a date line
such as "Mar 18", then paragraphs separated by blank lines that alternate title,
abstract, title, abstract. Anything that does not fit is a located error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ContentError
from .frontmatter import normalise_text

DATE_LINE = re.compile(
    r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}(,?\s+\d{4})?$"
)
TITLE_MAX = 300
ABSTRACT_MIN = 80


@dataclass(frozen=True, slots=True)
class Entry:
    """One paper of a listing, raw, with the 1-based lines it came from."""

    title: str
    abstract: str
    title_line: int
    abstract_line: int


@dataclass(frozen=True, slots=True)
class Listing:
    """The date line as printed and the entries in page order."""

    date_text: str
    entries: tuple[Entry, ...]


def _paragraphs(lines: list[str], start: int) -> list[tuple[int, str]]:
    """(first line number, text) of each blank-line separated paragraph from `start`."""
    paras: list[tuple[int, str]] = []
    current: list[str] = []
    first = 0
    for number, line in enumerate(lines[start:], start=start + 1):
        if line.strip():
            if not current:
                first = number
            current.append(line.strip())
        elif current:
            paras.append((first, " ".join(current)))
            current = []
    if current:
        paras.append((first, " ".join(current)))
    return paras


def parse_listing(text: str, path: str) -> tuple[Listing | None, list[ContentError]]:
    """Parse the listing; on any problem return (None, errors) naming the lines."""
    lines = normalise_text(text).split("\n")
    date_index = next((i for i, line in enumerate(lines) if DATE_LINE.match(line.strip())), None)
    if date_index is None:
        return None, [
            ContentError(
                path,
                1,
                0,
                "no date line found (e.g. 'Mar 18')",
                "a daily-papers listing has page chrome, a date line, then "
                "title and abstract paragraphs separated by blank lines",
            )
        ]
    paras = _paragraphs(lines, date_index + 1)
    errors: list[ContentError] = []
    entries: list[Entry] = []
    if not paras:
        errors.append(ContentError(path, date_index + 1, 0, "no papers after the date line"))
    i = 0
    while i < len(paras):  # resynchronises after a bad paragraph so each problem is reported once
        title_line, title = paras[i]
        if len(title) > TITLE_MAX:
            errors.append(
                ContentError(
                    path,
                    title_line,
                    1,
                    f"expected a paper title, found a paragraph of {len(title)} characters",
                    "each paper is a title line, a blank line, then its abstract; "
                    "is a title missing above this paragraph?",
                )
            )
            i += 1
            continue
        if i + 1 >= len(paras):
            errors.append(
                ContentError(
                    path,
                    title_line,
                    1,
                    f"title '{title[:60]}' has no abstract after it",
                    "add the abstract as the next paragraph, or remove the title",
                )
            )
            break
        abstract_line, abstract = paras[i + 1]
        if len(abstract) < ABSTRACT_MIN:
            errors.append(
                ContentError(
                    path,
                    title_line,
                    1,
                    f"title '{title[:60]}' has no abstract after it",
                    f"line {abstract_line} is a short line ({len(abstract)} characters), not an abstract",
                )
            )
            i += 1
            continue
        entries.append(Entry(title, abstract, title_line, abstract_line))
        i += 2
    if errors:
        return None, errors
    return Listing(lines[date_index].strip(), tuple(entries)), []
