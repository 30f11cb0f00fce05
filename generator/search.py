"""Catalogue -> prebuilt lunr index plus a small store for result cards (pure, no I/O)."""

from __future__ import annotations

from .lunr_js import JS_SPACE_RE, make_builder
from .model import Catalogue, Paper

# Title matches dominate; tags, topics and authors beat words that only the abstract has.
FIELDS = (("title", 10), ("tags", 3), ("topics", 3), ("authors", 2), ("abstract", 1))
SUMMARY_CHARS = 220


def _clean(text: str) -> str:
    return JS_SPACE_RE.sub(" ", text)


def short_ref(position: int) -> str:
    """A compact lunr ref (base 36): refs repeat in every posting, slugs would triple the index."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        position, rest = divmod(position, 36)
        out = digits[rest] + out
        if not position:
            return out


def index_document(ref: str, paper: Paper, topic_names: dict[str, str], abstract: str) -> dict:
    """The text lunr indexes for one paper, as strings lunr.js would tokenise alike."""
    return {
        "ref": ref,
        "title": _clean(paper.title),
        "authors": _clean(", ".join(paper.authors)),
        "topics": _clean(", ".join(topic_names[t] for t in paper.topics)),
        "tags": " ".join(tag.replace("-", " ") for tag in paper.tags),
        "abstract": _clean(abstract),
    }


def summary(abstract: str, limit: int = SUMMARY_CHARS) -> str:
    """The abstract's start, cut at a word boundary."""
    text = " ".join(abstract.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def build_search_index(catalogue: Catalogue, abstracts: dict[str, str]) -> dict:
    """Build the lunr index (lunr.js-compatible pipeline) and the result-card store.

    `abstracts` maps slug -> plain text of the abstract (from the rendered HTML). Refs are
    short ids in catalogue order; the store maps each to its card (slug, title, url, …).
    """
    topic_names = {t.slug: t.name for t in catalogue.topics}
    refs = {p.slug: short_ref(i) for i, p in enumerate(catalogue.papers)}
    builder = make_builder()
    builder.ref("ref")
    for name, boost in FIELDS:
        builder.field(name, boost=boost)
    for paper in catalogue.papers:
        builder.add(index_document(refs[paper.slug], paper, topic_names, abstracts[paper.slug]))
    index = builder.build()
    store = {
        refs[p.slug]: {
            "slug": p.slug,
            "title": p.title,
            "url": f"papers/{p.slug}/",
            "year": p.year,
            "authors": list(p.authors[:3]) + (["et al."] if len(p.authors) > 3 else []),
            "topics": [topic_names[t] for t in p.topics],
            "summary": summary(abstracts[p.slug]),
        }
        for p in catalogue.papers
    }
    return {"index": index.serialize(), "store": store}
