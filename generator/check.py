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
# starts with a number and a period ("2024. was…"), or is indented by a tab or four spaces.
SURPRISE = re.compile(r"(?:\A|\n[^\S\n]*\n)(?: {0,3}(\d+)\. +\S|(\t| {4,})\S)")
LIST_ITEM = re.compile(r"^ {0,3}(?:[*+-]|\d+\.) ", re.MULTILINE)


def content_warnings(
    papers: list[Paper], today: dt.date | None = None, cache: Cache | None = None
) -> list[ContentError]:
    """Tags used by one paper only, short abstracts, Markdown's surprises, missing dates,
    `added` in the future."""
    cache = cache or Cache.disabled()
    today = today or dt.date.today()
    warnings: list[ContentError] = []
    tag_use = Counter(tag for p in papers for tag in p.tags)
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
            line, col = p.where("title")
            warnings.append(
                ContentError(
                    p.path,
                    line,
                    1,
                    "no publication 'date'",
                    'add date: "YYYY-MM-DD" (or "YYYY-MM" / "YYYY") after the title',
                    "warning",
                )
            )
    similar = cache.memo(
        "similar-titles", identity_digest(papers), lambda: similar_title_warnings(papers), ALWAYS, kind=list
    )
    return warnings + similar


def _markdown_surprises(p: Paper) -> list[ContentError]:
    """Paragraphs that would render as a list starting at 1, or as code, before any list."""
    out = []
    for m in SURPRISE.finditer(p.body_md):
        start = m.start(1) if m.group(1) else m.start(2)
        line_start = p.body_md.rfind("\n", 0, start) + 1
        if LIST_ITEM.search(p.body_md, 0, line_start) or m.group(1) == "1":
            continue  # a list the author meant, or part of one
        line = p.where("body")[0] + p.body_md.count("\n", 0, start)
        if m.group(1):
            number = m.group(1)
            message = (
                f"this paragraph starts with '{number}.', which Markdown turns into a list item numbered 1"
            )
            hint = f"write '{number}\\.' to keep the number as text"
        else:
            message = "this paragraph is indented, which Markdown shows as a block of code"
            hint = "remove the indentation, unless the abstract really shows code"
        out.append(ContentError(p.path, line, start - line_start + 1, message, hint, "warning"))
    return out


def escalate(warnings: list[ContentError]) -> list[ContentError]:
    """--strict: the same findings, as errors."""
    return [dataclasses.replace(w, level="error", message=w.message + " (strict)") for w in warnings]
