"""Catalogue -> topic and tag pages: keyed by slug, sorted, deterministic."""

from __future__ import annotations

from collections import defaultdict

from .model import Catalogue, Paper, TermPage


def _filed(catalogue: Catalogue, field: str) -> dict[str, list[Paper]]:
    """Term -> its papers in catalogue order, in one pass (not one pass per term)."""
    filed: dict[str, list[Paper]] = defaultdict(list)
    for paper in catalogue.papers:
        for term in dict.fromkeys(getattr(paper, field)):
            filed[term].append(paper)
    return filed


def topic_pages(catalogue: Catalogue) -> tuple[TermPage, ...]:
    """One page per topic in taxonomy order, listing its papers in catalogue order."""
    filed = _filed(catalogue, "topics")
    return tuple(
        TermPage("topic", t.slug, t.name, t.description, tuple(filed.get(t.slug, ())))
        for t in catalogue.topics
    )


def tag_pages(catalogue: Catalogue) -> tuple[TermPage, ...]:
    """One page per tag used by any paper, sorted by slug."""
    filed = _filed(catalogue, "tags")
    return tuple(TermPage("tag", tag, tag, "", tuple(filed[tag])) for tag in sorted(filed))
