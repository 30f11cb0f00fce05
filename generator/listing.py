"""Parse a daily-papers listing (a text dump of the page) into title/abstract entries.

The format: page chrome lines ("Get trending papers…", "Subscribe", …), a date line
such as "Mar 18", then paragraphs separated by blank lines that alternate title,
abstract, title, abstract. Lines of the page's own text between papers ("Upvote", a
count, "Submitted by …", "Next day") are skipped and reported. Anything else that does not
fit is a located error.
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
# A whole line of the page's own text: votes and counts, who submitted, paging, links.
_COUNT = r"\d[\d,]*(?:\.\d+)?k?"
_LINKS = r"pdf|arxiv|github|code|dataset|project page"
PAGE_LINE = re.compile(
    rf"(?:upvotes?|upvoted)(?:\s+{_COUNT})?|(?:[·•]\s*)?{_COUNT}(?:\s+(?:upvotes?|authors?|comments?))?"
    r"|submitted by\b.{0,80}|(?:previous|next)(?: day| page)?|daily papers|published on\b.{0,40}"
    rf"|view (?:pdf|paper|all|arxiv page)|(?:[·•]\s*)?(?:{_LINKS})(?:\s*[·•|]\s*(?:{_LINKS}))*",
    re.I,
)
SUBMITTED_BY = re.compile(r"submitted by", re.I)
USER = re.compile(r"\S{1,40}")


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
    page_lines: tuple[tuple[int, str], ...] = ()  # (line, text) of the page's own text, skipped


def _paragraphs(lines: list[str], start: int) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(first line number, text) of each blank-line separated paragraph from `start`, and the
    lines of page text dropped: paragraphs made only of them, and those that begin or end one."""
    blocks: list[list[tuple[int, str]]] = [[]]
    for number, line in enumerate(lines[start:], start=start + 1):
        if line.strip():
            blocks[-1].append((number, line.strip()))
        elif blocks[-1]:
            blocks.append([])
    paras: list[tuple[int, str]] = []
    dropped: list[tuple[int, str]] = []
    for block in blocks:
        first, last = 0, len(block)
        while first < last and PAGE_LINE.fullmatch(block[first][1]):
            first += 1
            if (
                SUBMITTED_BY.fullmatch(block[first - 1][1])
                and first < last
                and USER.fullmatch(block[first][1])
            ):
                first += 1  # the submitter's user name, on a line of its own
        while last > first and PAGE_LINE.fullmatch(block[last - 1][1]):
            last -= 1
        dropped += block[:first] + block[last:]
        if first < last:
            paras.append((block[first][0], " ".join(text for _, text in block[first:last])))
    return paras, sorted(dropped)


def _taken_as_abstract(entries: list[Entry], paras: list[tuple[int, str]], i: int) -> str:
    """A hint's second thought: the paragraph before paragraph i was read as an abstract, but
    it is short enough to be a title (a title without its abstract shifts every pair after it)."""
    if not entries or i == 0 or entries[-1].abstract_line != paras[i - 1][0]:
        return ""
    last = entries[-1]
    if len(last.abstract) > TITLE_MAX:
        return ""
    return (
        f"; line {last.abstract_line} was read as the abstract of the title at line {last.title_line}:"
        f" if line {last.abstract_line} is a title, add the abstract line {last.title_line} lacks"
        " or remove that title"
    )


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
    paras, page_lines = _paragraphs(lines, date_index + 1)
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
                    "is a title missing above this paragraph?" + _taken_as_abstract(entries, paras, i),
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
                    "add the abstract as the next paragraph, or remove the title"
                    + _taken_as_abstract(entries, paras, i),
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
    return Listing(lines[date_index].strip(), tuple(entries), tuple(page_lines)), []
