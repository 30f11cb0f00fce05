"""Catalogue -> topic and tag pages: keyed by slug, sorted, deterministic."""

from __future__ import annotations

from .model import Catalogue, TermPage


def topic_pages(catalogue: Catalogue) -> tuple[TermPage, ...]:
    """One page per topic in taxonomy order, listing its papers in catalogue order."""
    return tuple(
        TermPage(
            "topic", t.slug, t.name, t.description, tuple(p for p in catalogue.papers if t.slug in p.topics)
        )
        for t in catalogue.topics
    )


def tag_pages(catalogue: Catalogue) -> tuple[TermPage, ...]:
    """One page per tag used by any paper, sorted by slug."""
    tags = sorted({tag for p in catalogue.papers for tag in p.tags})
    return tuple(
        TermPage("tag", tag, tag, "", tuple(p for p in catalogue.papers if tag in p.tags)) for tag in tags
    )
