"""Parse a daily-papers listing (a text dump of the page) into title/abstract entries.

The format: page chrome lines ("Get trending papers…", "Subscribe", …), a date line
such as "Mar 18", then paragraphs separated by blank lines that alternate title,
abstract, title, abstract. Lines of the page's own text between papers ("Upvote", a
count, "Submitted by …", "Next day") are skipped and reported. Anything else that does not
fit is a located error.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from .errors import ContentError
from .frontmatter import normalise_text

DATE_LINE = re.compile(
    r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}(,?\s+\d{4})?$"
)
TITLE_MAX = 300
ABSTRACT_MIN = 80
# A whole line of the page's own text: votes and counts, ranks, who submitted and when, paging,
# links, separators.
_COUNT = r"#?\d[\d,]*(?:\.\d+)?k?"
_LINKS = r"pdf|arxiv(?: page)?|github|code|dataset|project page|hugging ?face|model|demo"
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
PAGE_LINE = re.compile(
    rf"(?:upvotes?|upvoted)(?:\s+{_COUNT})?"
    rf"|(?:[·•]\s*)?{_COUNT}(?:\s+(?:upvotes?|authors?|comments?|likes?|stars?))?"
    r"|#\d+ paper of the (?:day|week|month)|[-–—·•|→←↑↓,.:;]+"
    r"|(?:←\s*)?(?:previous|next|prev|older|newer)(?: day| page| week| month)?(?:\s*→)?"
    rf"|submitted by\b.{{0,80}}|(?:published |submitted )?on {_MONTH} \d{{1,2}}(?:,? \d{{4}})?"
    r"|daily papers|load more|see all|show (?:more|less)|view all|comments?"
    rf"|(?:view )?(?:[·•]\s*)?(?:{_LINKS})(?:\s*[·•|]\s*(?:{_LINKS}))*",
    re.I,
)
SUBMITTED_BY = re.compile(r"submitted by:?", re.I)
USER = re.compile(r"@?\w[\w.-]*(?: \w[\w.-]*){0,2}")  # a user name after "Submitted by"
PROSE_END = re.compile(r"[.!?][\"'”’)\]]*$")  # how abstracts end; titles seldom end with a full stop
FULL_STOP_END = re.compile(r"\.[\"'”’)\]]*$")
ERRORS_SHOWN = 50  # of a listing's problems; the rest are counted
CHROME_MAX = 160  # before the date line: page chrome is short; a longer paragraph is a misplaced paper


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


def _page_text(lines: list[str], start: int) -> set[int]:
    """The 1-based numbers of lines from `start` that are the page's own text: PAGE_LINE, other
    date lines (a dump of several days), and a user name on the line after "Submitted by"
    (a blank line between them, or not)."""
    found: set[int] = set()
    after_submitted = False
    for number, line in enumerate(lines[start:], start=start + 1):
        text = line.strip()
        if not text:
            continue
        if PAGE_LINE.fullmatch(text) or DATE_LINE.match(text) or (after_submitted and USER.fullmatch(text)):
            found.add(number)
        after_submitted = bool(SUBMITTED_BY.fullmatch(text))
    return found


def _paragraphs(lines: list[str], start: int) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(first line number, text) of each paragraph from `start`, and the lines of page text
    dropped. Paragraphs are separated by blank lines and by lines of page text, wherever those
    stand: "Upvote" under an abstract with no blank line between is no part of it."""
    page = _page_text(lines, start)
    paras: list[tuple[int, str]] = []
    dropped: list[tuple[int, str]] = []
    current: list[str] = []
    first = 0
    for number, line in enumerate(lines[start:], start=start + 1):
        text = line.strip()
        if text and number not in page:
            if not current:
                first = number
            current.append(text)
            continue
        if text:
            dropped.append((number, text))
        if current:
            paras.append((first, " ".join(current)))
            current = []
    if current:
        paras.append((first, " ".join(current)))
    return paras, dropped


def _abstract_like(text: str) -> bool:
    """Whether a paragraph reads as an abstract: longer than any title, or prose that ends as a
    sentence does. A title of 80 to 300 characters is not taken for an abstract."""
    return len(text) > TITLE_MAX or (len(text) >= ABSTRACT_MIN and PROSE_END.search(text) is not None)


def _title_like(text: str) -> bool:
    """Whether a paragraph can be a title: not longer than TITLE_MAX, and not several sentences
    ending with a full stop, as an abstract's are."""
    if len(text) > TITLE_MAX:
        return False
    return not (FULL_STOP_END.search(text) and re.search(r"[.!?] [A-Z]", text))


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


def _page_text_above(dropped: list[tuple[int, str]], paras: list[tuple[int, str]], i: int) -> str:
    """A hint's note of the lines skipped as page text just above paragraph i: an abstract's own
    line that looks like page text ("Next", a number alone) splits it."""
    above = paras[i - 1][0] if i else 0
    start = bisect.bisect_right(dropped, above, key=lambda d: d[0])  # dropped: in line order
    end = bisect.bisect_left(dropped, paras[i][0], key=lambda d: d[0])
    lines = dropped[start:end][-3:]
    if not lines:
        return ""
    shown = ", ".join(f"{n} '{text}'" for n, text in lines)
    return (
        f"; skipped as page text above it: line {shown}"
        " (if they are words of an abstract, join them to its other lines)"
    )


def _misplaced_papers(lines: list[str], date_index: int, path: str) -> list[ContentError]:
    """Errors for paragraphs above the date line too long to be page chrome: papers there
    would be dropped with the chrome."""
    errors = []
    for line, text in _paragraphs(lines[:date_index], 0)[0]:
        if len(text) > CHROME_MAX:
            errors.append(
                ContentError(
                    path,
                    line,
                    1,
                    f"a paragraph of {len(text)} characters above the date line (line {date_index + 1})",
                    "papers come after the date line; move the date line above them (text above it is"
                    " skipped as the page's header)",
                )
            )
    return errors


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
    errors: list[ContentError] = _misplaced_papers(lines, date_index, path)
    entries: list[Entry] = []
    if not paras:
        errors.append(ContentError(path, date_index + 1, 0, "no papers after the date line"))
    i = 0
    while i < len(paras):  # resynchronises after a bad paragraph so each problem is reported once
        title_line, title = paras[i]
        if not _title_like(title):
            found = (
                f"a paragraph of {len(title)} characters"
                if len(title) > TITLE_MAX
                else "sentences ending with a full stop, as an abstract's"
            )
            errors.append(
                ContentError(
                    path,
                    title_line,
                    1,
                    f"expected a paper title, found {found}",
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
                    + _taken_as_abstract(entries, paras, i)
                    + _page_text_above(page_lines, paras, i),
                )
            )
            break
        abstract_line, abstract = paras[i + 1]
        if not _abstract_like(abstract):
            why = (
                f"a short line ({len(abstract)} characters)"
                if len(abstract) < ABSTRACT_MIN
                else "a title, not an abstract: it does not end with a full stop"
            )
            errors.append(
                ContentError(
                    path,
                    title_line,
                    1,
                    f"title '{title[:60]}' has no abstract after it",
                    f"line {abstract_line} reads as {why}; add this title's abstract, or remove the title"
                    " (an abstract that ends otherwise: end it with a full stop)"
                    + _page_text_above(page_lines, paras, i),
                )
            )
            i += 1
            continue
        entries.append(Entry(title, abstract, title_line, abstract_line))
        i += 2
    if len(errors) > ERRORS_SHOWN:  # a file that is no listing at all: the first ones say enough
        more = len(errors) - ERRORS_SHOWN
        errors = errors[:ERRORS_SHOWN] + [
            ContentError(
                path,
                errors[ERRORS_SHOWN].line,
                1,
                f"and {more} more problems like these after this line",
                "is this a daily-papers listing? Fix the first problems and run it again",
            )
        ]
    if errors:
        return None, errors
    return Listing(lines[date_index].strip(), tuple(entries), tuple(page_lines)), []
