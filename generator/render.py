"""Jinja environment and page views -> OutputFiles in memory (no disk writes here)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from urllib.parse import quote_plus

import jinja2
from markupsafe import Markup

from .model import Catalogue, OutputFile, Paper, TermPage

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def make_environment(templates_dir: Path) -> jinja2.Environment:
    """Autoescaping, strict Jinja environment over the templates folder."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def format_date(value: str | dt.date | None) -> str:
    """'2024-03-05' -> '5 March 2024'; '2024-03' -> 'March 2024'; '2024' -> '2024'."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, dt.date) else value
    parts = text.split("-")
    if len(parts) == 1:
        return parts[0]
    month = MONTHS[int(parts[1]) - 1]
    return f"{month} {parts[0]}" if len(parts) == 2 else f"{int(parts[2])} {month} {parts[0]}"


def _root(path: str) -> str:
    """Relative prefix from an output file back to the site root ('' at the root)."""
    return "../" * path.count("/")


def paper_view(paper: Paper, topic_names: dict[str, str]) -> dict:
    """What templates need of one paper: plain values, links and chips, nothing raw."""
    links = []
    if paper.arxiv:
        links.append(("arXiv", f"https://arxiv.org/abs/{paper.arxiv}"))
    for label, url in (("PDF", paper.pdf), ("Paper", paper.url), ("Code", paper.code)):
        if url:
            links.append((label, url))
    if paper.doi:
        links.append(("DOI", f"https://doi.org/{paper.doi}"))
    if paper.arxiv and not paper.pdf:
        links.insert(1, ("PDF", f"https://arxiv.org/pdf/{paper.arxiv}"))
    if not links:  # nothing recorded yet: help the reader find it
        query = quote_plus(paper.title)
        links = [
            ("Find on arXiv", f"https://arxiv.org/search/?query={query}&searchtype=title"),
            ("Find on Google Scholar", f"https://scholar.google.com/scholar?q={query}"),
        ]
    return {
        "slug": paper.slug,
        "title": paper.title,
        "url": f"papers/{paper.slug}/",
        "authors": paper.authors,
        "date": format_date(paper.date),
        "date_iso": paper.date or "",
        "year": paper.year,
        "added": format_date(paper.added),
        "added_iso": paper.added.isoformat(),
        "links": links,
        "topics": [{"name": topic_names[t], "url": f"topics/{t}/"} for t in paper.topics],
        "tags": [{"name": t, "url": f"tags/{t}/"} for t in paper.tags],
        "body_html": Markup(paper.body_html),  # sanitised by markup.sanitise
    }


def term_view(page: TermPage) -> dict:
    """A topic or tag as listed on an index page."""
    plural = "topics" if page.kind == "topic" else "tags"
    return {
        "slug": page.slug,
        "name": page.name,
        "description": page.description,
        "count": len(page.papers),
        "url": f"{plural}/{page.slug}/",
    }


def render_site(
    env: jinja2.Environment,
    catalogue: Catalogue,
    topics: tuple[TermPage, ...],
    tags: tuple[TermPage, ...],
    search_data: dict,
) -> list[OutputFile]:
    """Render every page and data file of the site to memory, in a fixed order."""
    config = catalogue.config
    topic_names = {t.slug: t.name for t in catalogue.topics}
    views = {p.slug: paper_view(p, topic_names) for p in catalogue.papers}
    all_views = [views[p.slug] for p in catalogue.papers]
    outputs: list[OutputFile] = []

    def page(path: str, template: str, title: str, **context) -> None:
        html = env.get_template(template).render(
            site=config,
            root=_root(path),
            page_title=title,
            canonical=config.base_url + path.removesuffix("index.html"),
            **context,
        )
        outputs.append(OutputFile(path, html.encode("utf-8")))

    groups: list[dict] = []
    for view in all_views:  # catalogue order is newest `added` first
        if not groups or groups[-1]["added_iso"] != view["added_iso"]:
            groups.append({"added": view["added"], "added_iso": view["added_iso"], "papers": []})
        groups[-1]["papers"].append(view)
    page(
        "index.html",
        "index.html",
        "",
        groups=groups,
        counts={"papers": len(catalogue.papers), "topics": len(topics), "tags": len(tags)},
    )
    for paper in catalogue.papers:
        page(f"papers/{paper.slug}/index.html", "paper.html", paper.title, paper=views[paper.slug])
    for kind, pages in (("topic", topics), ("tag", tags)):
        plural = kind + "s"
        page(
            f"{plural}/index.html", f"{plural}.html", plural.capitalize(), terms=[term_view(t) for t in pages]
        )
        for term in pages:
            page(
                f"{plural}/{term.slug}/index.html",
                "term.html",
                term.name if kind == "topic" else f"Tag: {term.name}",
                term=term_view(term),
                kind=kind,
                papers=[views[p.slug] for p in term.papers],
            )
    page(
        "search/index.html",
        "search.html",
        "Search",
        facet_topics=[{"slug": t.slug, "name": t.name} for t in catalogue.topics],
        facet_tags=[t.slug for t in tags],
        facet_years=sorted({p.year for p in catalogue.papers if p.year}),
    )
    for path, data in sorted(search_data.items()):
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        outputs.append(OutputFile(path, text.encode("utf-8")))
    return outputs
