"""Warnings: content that is legal but suspicious. `--strict` turns them into errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter

from .cache import ALWAYS, Cache
from .duplicates import identity_digest, similar_title_warnings
from .errors import ContentError
from .model import Paper

SHORT_ABSTRACT = 200


def content_warnings(
    papers: list[Paper], today: dt.date | None = None, cache: Cache | None = None
) -> list[ContentError]:
    """Tags used by one paper only, short abstracts, missing dates, `added` in the future."""
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


def escalate(warnings: list[ContentError]) -> list[ContentError]:
    """--strict: the same findings, as errors."""
    return [dataclasses.replace(w, level="error", message=w.message + " (strict)") for w in warnings]
