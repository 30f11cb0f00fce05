"""The frozen data model that flows between stages."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, fields


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """Site-wide settings from `content/site.yml`."""

    title: str
    description: str
    base_url: str  # absolute, ends with "/"; may include a path
    language: str = "en"


@dataclass(frozen=True, slots=True)
class Topic:
    """One entry of the curated taxonomy in `content/topics.yml`."""

    slug: str
    name: str
    description: str
    keywords: tuple[str, ...] = ()


def _quick_unpickling(cls: type) -> type:
    """Give a frozen dataclass with slots a quicker __setstate__ than the one dataclasses adds,
    which works out the class's fields again for every object: a rebuild unpickles 10,000
    papers from the build cache (0.084 s with it, 0.068 s with this). The state is the same:
    the fields' values, in order."""
    setters = tuple(getattr(cls, f.name).__set__ for f in fields(cls))

    def __setstate__(self, state) -> None:
        for put, value in zip(setters, state, strict=True):
            put(self, value)

    cls.__setstate__ = __setstate__
    return cls


@_quick_unpickling
@dataclass(frozen=True, slots=True)
class Paper:
    """A validated paper; `body_html` is filled in by the markup stage."""

    slug: str
    title: str
    authors: tuple[str, ...]
    added: dt.date
    topics: tuple[str, ...]
    tags: tuple[str, ...]
    body_md: str
    path: str
    date: str | None = None  # "YYYY", "YYYY-MM" or "YYYY-MM-DD"
    arxiv: str | None = None
    doi: str | None = None
    url: str | None = None
    pdf: str | None = None
    code: str | None = None
    journal: str | None = None  # where it was published: a journal, or
    proceedings: str | None = None  # proceedings (never both)
    source: str | None = None
    same_as: str | None = None
    organisations: tuple[str, ...] = ()  # the authors that are organisations ("{OpenAI}" in the file)
    body_html: str = ""
    body_text: str = ""  # the plain text of body_html
    body_terms: str | None = None  # its search-index terms, each after a "\n" (search.abstract_terms)
    digest: str = ""  # of the source file and the topics it was checked against ("": unknown)
    identity: str = ""  # duplicates.paper_identity: what the cross-file checks read ("": not worked out)
    # [[field or "tags:<tag>", line, col], ...] as JSON: one string unpickles in a fraction of
    # the time of its dozens of objects (0.07 s of reading 10,000 papers from the cache)
    positions: str = "[]"
    year: int | None = field(init=False, compare=False)  # of the date, when known; set from it

    def __post_init__(self) -> None:
        object.__setattr__(self, "year", int(self.date[:4]) if self.date else None)  # read by every listing

    def where(self, key: str) -> tuple[int, int]:
        """1-based (line, col) of a field's value in the source file; (1, 1) if unknown."""
        for name, line, col in json.loads(self.positions):
            if name == key:
                return line, col
        return 1, 1


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Everything the site is made of: papers sorted newest-added first, topics, config."""

    papers: tuple[Paper, ...]
    topics: tuple[Topic, ...]
    config: SiteConfig


@dataclass(frozen=True, slots=True)
class TermPage:
    """A topic or tag with the papers filed under it (already sorted)."""

    kind: str  # "topic" or "tag"
    slug: str
    name: str
    description: str
    papers: tuple[Paper, ...]


@dataclass(frozen=True, slots=True)
class OutputFile:
    """One file of the built site: a path relative to `site/` and its bytes.

    `key` is a digest of everything the file was made from (pages only). `data` is None when
    the previous build wrote a file under the same path and key: that file is reused.
    """

    path: str
    data: bytes | None
    key: str = ""


def sort_papers(papers) -> tuple[Paper, ...]:
    """Newest `added` first, then newest publication date, then slug: one order everywhere."""
    by_slug = sorted(papers, key=lambda p: p.slug)
    by_date = sorted(by_slug, key=lambda p: p.date or "", reverse=True)
    return tuple(sorted(by_date, key=lambda p: p.added, reverse=True))
