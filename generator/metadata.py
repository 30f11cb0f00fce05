"""What machines read: scholarly <head> metadata, JSON-LD, papers.json and its schema,
sitemap.xml and robots.txt. Pure functions over the model; rendering writes them."""

from __future__ import annotations

import datetime as dt
import html

from .cite import is_suffix
from .model import Catalogue, Paper, SiteConfig

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
PAPERS_FORMAT = 1


def pdf_url(paper: Paper) -> str | None:
    """The PDF link: given, else arXiv's."""
    return paper.pdf or (f"https://arxiv.org/pdf/{paper.arxiv}" if paper.arxiv else None)


def citation_date(paper: Paper) -> str:
    """Google Scholar reads a full date as YYYY/MM/DD, else the year alone (not YYYY/MM)."""
    date = paper.date or ""
    return date.replace("-", "/") if len(date) == 10 else date[:4]


def citation_author(name: str) -> str:
    """A name as citation_author wants it: Scholar and Zotero read a comma as "Last, First",
    so "Martin Luther King, Jr." loses the comma before its suffix."""
    before, _, suffix = name.partition(",")
    return f"{before} {suffix.strip()}" if name.count(",") == 1 and is_suffix(suffix.strip()) else name


def headline(title: str, limit: int = 110) -> str:
    """schema.org's headline (at most 110 characters): the title, cut after a word."""
    if len(title) <= limit:
        return title
    return title[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def json_ld(paper: Paper, config: SiteConfig, description: str, topic_names: dict[str, str]) -> dict:
    """schema.org ScholarlyArticle for a paper page (emitted with |tojson, safe in <script>)."""
    data: dict = {
        "@context": "https://schema.org",
        "@type": "ScholarlyArticle",
        "headline": headline(paper.title),
        "name": paper.title,
        "url": f"{config.base_url}papers/{paper.slug}/",
        "description": description,
        "author": [
            {"@type": "Organization" if a in paper.organisations else "Person", "name": a}
            for a in paper.authors
        ],
        "keywords": [topic_names[t] for t in paper.topics] + list(paper.tags),
        "isPartOf": {"@type": "WebSite", "name": config.title, "url": config.base_url},
    }
    if paper.date:
        data["datePublished"] = paper.date
    if paper.doi:
        data["identifier"] = {"@type": "PropertyValue", "propertyID": "DOI", "value": paper.doi}
        data["sameAs"] = [f"https://doi.org/{paper.doi}"]
    if paper.arxiv:
        data.setdefault("sameAs", []).append(f"https://arxiv.org/abs/{paper.arxiv}")
    return data


def paper_record(paper: Paper, config: SiteConfig, abstract: str, key: str | None) -> dict:
    """One paper in papers.json: stable field names, null where unknown."""
    return {
        "slug": paper.slug,
        "title": paper.title,
        "authors": list(paper.authors),
        "date": paper.date,
        "year": paper.year,
        "added": paper.added.isoformat(),
        "arxiv": paper.arxiv,
        "doi": paper.doi,
        "url": paper.url,
        "pdf": pdf_url(paper),
        "code": paper.code,
        "journal": paper.journal,
        "proceedings": paper.proceedings,
        "topics": list(paper.topics),
        "tags": list(paper.tags),
        "abstract": abstract,
        "page": f"{config.base_url}papers/{paper.slug}/",
        "bibtex_key": key,
        "same_as": paper.same_as,
    }


def papers_json(catalogue: Catalogue, abstracts: dict[str, str], keys: dict[str, str]) -> dict:
    """The whole catalogue as data, newest added first."""
    config = catalogue.config
    return {
        "$schema": f"{config.base_url}papers.schema.json",
        "format": PAPERS_FORMAT,
        "title": config.title,
        "site": config.base_url,
        "topics": [{"slug": t.slug, "name": t.name, "description": t.description} for t in catalogue.topics],
        "papers": [paper_record(p, config, abstracts[p.slug], keys.get(p.slug)) for p in catalogue.papers],
    }


_NULLABLE_STRING = {"type": ["string", "null"]}
PAPERS_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "papercat papers.json",
    "description": "Every paper of the catalogue with its metadata; field names are stable.",
    "type": "object",
    "required": ["format", "title", "site", "topics", "papers"],
    "additionalProperties": False,
    "properties": {
        "$schema": {"type": "string"},
        "format": {"const": PAPERS_FORMAT},
        "title": {"type": "string"},
        "site": {"type": "string", "format": "uri"},
        "topics": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["slug", "name", "description"],
                "additionalProperties": False,
                "properties": {
                    "slug": {"type": "string"},
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                },
            },
        },
        "papers": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "slug",
                    "title",
                    "authors",
                    "date",
                    "year",
                    "added",
                    "arxiv",
                    "doi",
                    "url",
                    "pdf",
                    "code",
                    "journal",
                    "proceedings",
                    "topics",
                    "tags",
                    "abstract",
                    "page",
                    "bibtex_key",
                    "same_as",
                ],
                "properties": {
                    "slug": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
                    "title": {"type": "string", "minLength": 1},
                    "authors": {"type": "array", "items": {"type": "string"}},
                    "date": {"type": ["string", "null"], "pattern": "^\\d{4}(-\\d{2}(-\\d{2})?)?$"},
                    "year": {"type": ["integer", "null"]},
                    "added": {"type": "string", "format": "date"},
                    "arxiv": _NULLABLE_STRING,
                    "doi": _NULLABLE_STRING,
                    "url": _NULLABLE_STRING,
                    "pdf": _NULLABLE_STRING,
                    "code": _NULLABLE_STRING,
                    "journal": _NULLABLE_STRING,
                    "proceedings": _NULLABLE_STRING,
                    "topics": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "abstract": {"type": "string"},
                    "page": {"type": "string", "format": "uri"},
                    "bibtex_key": _NULLABLE_STRING,
                    "same_as": _NULLABLE_STRING,
                },
            },
        },
    },
}


def sitemap_xml(config: SiteConfig, pages: list[tuple[str, dt.date | None]]) -> bytes:
    """sitemap.xml for (site-relative page path, last modified) pairs: what ElementTree
    writes of it, indented (tested), as text directly (a ninth of the time)."""
    head = f'<?xml version="1.0" encoding="utf-8"?>\n<urlset xmlns="{SITEMAP_NS}"'
    if not pages:
        return f"{head} />\n".encode()
    base = html.escape(config.base_url, quote=False)
    urls = [
        f"\n  <url>\n    <loc>{base}{html.escape(path, quote=False)}</loc>"
        + (f"\n    <lastmod>{lastmod.isoformat()}</lastmod>" if lastmod else "")
        + "\n  </url>"
        for path, lastmod in pages
    ]
    return f"{head}>{''.join(urls)}\n</urlset>\n".encode()


def robots_txt(config: SiteConfig) -> bytes:
    """Allow everything and point at the sitemap."""
    return f"User-agent: *\nAllow: /\n\nSitemap: {config.base_url}sitemap.xml\n".encode()
