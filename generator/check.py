"""Warnings: content that is legal but suspicious. `--strict` turns them into errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import Counter

from .cache import ALWAYS, Cache
from .duplicates import identity_digest, similar_title_warnings
from .errors import ContentError
from .model import Paper

SHORT_ABSTRACT = 200
# A paragraph that Markdown reads as a numbered list or a code block, likely by accident: it
# starts with a number other than 1 and a period ("2024. was…"), or is indented by a tab or four
# spaces, and is not part of a list begun with "1." or a bullet.
SUSPECT_START = re.compile(r" {0,3}\d+\. |\t| {4}")  # a paragraph worth a closer look...
SUSPECT = re.compile(r"\n[^\S\n]*\n(?: {0,3}\d+\. |\t| {4})")  # (\A in one pattern: 20× slower)
LIST_START = re.compile(r" {0,3}(?:[*+-]|1\.) ")
NUMBERED = re.compile(r" {0,3}(\d+)\. +\S")
INDENTED = re.compile(r"(?:\t| {4,})\S")


def content_warnings(
    papers: list[Paper], today: dt.date | None = None, cache: Cache | None = None, kept: dict | None = None
) -> list[ContentError]:
    """Tags used by one paper only, short abstracts, Markdown's surprises, missing dates,
    `added` in the future.

    `kept` (from a process that builds again and again) holds each paper's own warnings by its
    digest and the day: at 10,000 papers, looking again took 80 ms of a rebuild."""
    cache = cache or Cache.disabled()
    today = today or dt.date.today()
    warnings: list[ContentError] = []
    tag_use = Counter(tag for p in papers for tag in p.tags)
    found: dict = {}
    for p in papers:
        for tag in p.tags:
            if tag_use[tag] == 1 and len(papers) > 1:
                line, col = p.where(f"tags:{tag}")
                warnings.append(
                    ContentError(
                        p.path,
                        line,
                        col,
                        f"tag '{tag}' is used by no other paper",
                        "prefer a tag that other papers already use (see the tags page); "
                        "keep it only if it is distinctive",
                        "warning",
                    )
                )
        key = (p.digest, today) if p.digest and kept is not None else None
        own = kept.get(key) if key else None
        if own is None:
            own = _paper_warnings(p, today)
        if key:
            found[key] = own
        warnings += own
    if kept is not None:  # only the papers of this build
        kept.clear()
        kept.update(found)
    similar = cache.memo(
        "similar-titles", identity_digest(papers), lambda: similar_title_warnings(papers), ALWAYS, kind=list
    )
    return warnings + similar


def _paper_warnings(p: Paper, today: dt.date) -> list[ContentError]:
    """Short abstract, Markdown's surprises, `added` in the future, no date: what a paper's
    own file says."""
    warnings: list[ContentError] = []
    # a prefix's collapsed length is at most the whole's: most abstracts need no more
    long = len(" ".join(p.body_md[: 2 * SHORT_ABSTRACT].split())) >= SHORT_ABSTRACT
    length = SHORT_ABSTRACT if long else len(" ".join(p.body_md.split()))
    if length < SHORT_ABSTRACT:
        line, col = p.where("body")
        warnings.append(
            ContentError(
                p.path,
                line,
                col,
                f"abstract is only {length} characters",
                "paste the paper's full abstract below the front matter",
                "warning",
            )
        )
    warnings += _markdown_surprises(p)
    if p.added > today:
        line, col = p.where("added")
        warnings.append(
            ContentError(
                p.path,
                line,
                col,
                f"'added' {p.added.isoformat()} is in the future",
                "use the day the paper joins the catalogue; it orders the home page",
                "warning",
            )
        )
    if not p.date:
        warnings.append(
            _missing(
                p,
                "title",
                "no publication 'date'",
                'add date: "YYYY-MM-DD" (or "YYYY-MM" / "YYYY") after the title',
            )
        )
    if not (p.arxiv or p.doi or p.url):
        warnings.append(
            _missing(
                p,
                "title",
                "no 'arxiv', 'doi' or 'url': readers cannot get from here to the paper",
                "add arxiv: (the id on its arXiv page, quoted), a doi, or the url of its landing page",
            )
        )
    if not p.authors:
        warnings.append(
            _missing(
                p,
                "authors",
                "no authors: citations of it name no one",
                'list them in order as on the paper: authors: ["First Author", "Second Author"]',
            )
        )
    return warnings


def _missing(p: Paper, near: str, message: str, hint: str) -> ContentError:
    """A warning of something a paper lacks, at the start of the line of field `near`."""
    return ContentError(p.path, p.where(near)[0], 1, message, hint, "warning")


def _markdown_surprises(p: Paper) -> list[ContentError]:
    """Paragraphs that would render as a list item numbered 1, or as code, outside a list."""
    if not (SUSPECT_START.match(p.body_md) or SUSPECT.search(p.body_md)):
        return []
    out: list[ContentError] = []
    in_list, after_blank = False, True
    for number, line in enumerate(p.body_md.split("\n"), start=p.where("body")[0]):
        if not line.strip():
            after_blank = True
            continue
        if not after_blank:
            continue  # a paragraph's later lines: Markdown needs a blank line before a list
        after_blank = False
        numbered, indented = NUMBERED.match(line), INDENTED.match(line)
        if LIST_START.match(line):
            in_list = True  # a list the author meant; its later items and indented paragraphs follow
        elif numbered and not in_list:
            digits = numbered.group(1)
            message = (
                f"this paragraph starts with '{digits}.', which Markdown turns into a list item numbered 1"
            )
            hint = f"write '{digits}\\.' to keep the number as text"
            out.append(ContentError(p.path, number, numbered.start(1) + 1, message, hint, "warning"))
        elif indented and not in_list:
            message = "this paragraph is indented, which Markdown shows as a block of code"
            hint = "remove the indentation, unless the abstract really shows code"
            out.append(ContentError(p.path, number, 1, message, hint, "warning"))
        elif not (numbered or indented):
            in_list = False  # a plain paragraph ends a list
    return out


def escalate(warnings: list[ContentError]) -> list[ContentError]:
    """--strict: the same findings, as errors."""
    return [dataclasses.replace(w, level="error", message=w.message + " (strict)") for w in warnings]
