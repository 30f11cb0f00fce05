"""Jinja environment and page views -> OutputFiles in memory (no disk writes here)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

import jinja2
from markupsafe import Markup

from . import metadata, parallel
from .cache import digest, value_bytes, value_digest
from .charts import year_chart
from .errors import describe_failure, template_line
from .model import Catalogue, OutputFile, Paper, SiteConfig, TermPage
from .search import summary
from .write import Previous, SiteWriter, keyed, reusable

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


_ESCAPED: dict[str, str] = {}  # str -> its escaped form: pages print the same strings again and again
ESCAPED_KEPT = 200_000  # strings remembered at most; render_site starts each build afresh


def _escaped(value) -> str:
    """What markupsafe.escape makes of a value, as a plain str, for the templates' output: where
    Jinja writes `escape(value)` into a page (the only place its compiled code escapes), it
    joins the result into the page's text, so the Markup around it is never used, and making
    one is a Python call of its own (0.33 against 0.19 us a value; a cold build of 10,000
    papers escapes about 1.8 million). The same characters are replaced, the same way.

    A str is escaped once and remembered: the link prefix, titles, names and links recur on
    page after page (a lookup takes a third of the replacing's time for a title)."""
    if type(value) is str:
        done = _ESCAPED.get(value)
        if done is None:
            done = (
                value.replace("&", "&amp;")
                .replace("<", "&lt;")
                .replace(">", "&gt;")
                .replace('"', "&#34;")
                .replace("'", "&#39;")
            )
            if len(_ESCAPED) < ESCAPED_KEPT:
                _ESCAPED[value] = done
        return done
    if hasattr(value, "__html__"):
        return str(value.__html__())
    return _escaped(str(value))


class _Template(jinja2.Template):
    """A template whose output escapes with _escaped: its compiled code looks `escape` up in
    its module's namespace, which from_code has just filled in."""

    @classmethod
    def from_code(cls, environment, code, globals, uptodate=None):
        template = super().from_code(environment, code, globals, uptodate)
        template.root_render_func.__globals__["escape"] = _escaped
        return template


class LocatedTemplateError(jinja2.TemplateRuntimeError):
    """A template error whose message starts with its template's file and line: it reaches
    the build's process whole from a worker, where a traceback would not."""

    located = True  # describe_failure shows the message as it is


def _render_page(env: jinja2.Environment, template: str, context: dict) -> str:
    try:
        return env.get_template(template).render(context)
    except jinja2.TemplateSyntaxError:  # located already
        raise
    except jinja2.TemplateError as exc:
        if template_line(exc) is None:
            raise
        raise LocatedTemplateError(describe_failure(exc)) from exc  # as describe_failure puts it here


class _Environment(jinja2.Environment):
    """`x.name` looks the item up first on the dicts and views pages are made of. Jinja tries
    the attribute first, and the AttributeError each field raised took about 8% of rendering
    the 1,000-paper site. (A dict's methods, `d.items()`, still work unless it has such a key.)"""

    template_class = _Template

    def getattr(self, obj, attribute):
        if type(obj) is dict or type(obj) is View:
            try:
                return obj[attribute]
            except KeyError:
                if type(obj) is View and not hasattr(obj, attribute):  # say what, not View's name
                    return self.undefined(
                        f"a paper has no field {attribute!r} (the README's Templates section lists them)",
                        obj,
                        attribute,
                    )
        value = super().getattr(obj, attribute)
        if type(obj) is SiteConfig and isinstance(value, jinja2.Undefined):  # not the class's name
            return self.undefined(
                f"site has no field {attribute!r} (the README's Templates section lists them)", obj, attribute
            )
        return value


def make_environment(templates_dir: Path, compiled: Path | None = None) -> jinja2.Environment:
    """Autoescaping, strict Jinja environment over the templates folder, for one build.

    `compiled`: a folder where compiled templates are kept between builds (Jinja checks
    each against its template's source when it loads it). Templates do not change during a
    build, so a loaded template is not checked again: with auto_reload, Jinja looked at the
    template's file (and those it extends or imports) each time a page asked for it.
    """
    cache = None
    if compiled is not None:
        try:
            compiled.mkdir(parents=True, exist_ok=True)
            cache = jinja2.FileSystemBytecodeCache(str(compiled))
        except OSError:
            cache = None
    return _Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        bytecode_cache=cache,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
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


class View(Mapping):
    """A template's view of one paper; its repr is a digest of its items, for page keys.

    Given a key, the items may come from `make`, called when a template first reads one: a
    rebuild keys every page but renders few, so most views are never made.
    """

    __slots__ = ("key", "_items", "_make")

    def __init__(self, items: dict | None = None, key: str | None = None, make=None) -> None:
        if items is None and not key:
            items = make()
        self._items, self._make = items, make
        self.key = key or digest(repr(items))

    def _made(self) -> dict:
        if self._items is None:
            self._items, self._make = self._make(), None
        return self._items

    def __getitem__(self, name: str):
        return self._made()[name]

    def __iter__(self):
        return iter(self._made())

    def __len__(self) -> int:
        return len(self._made())

    def __repr__(self) -> str:
        return f"View({self.key})"

    def extended(self, **extra) -> View:
        """This view with more items (e.g. a related paper's score)."""
        return View(key=f"{self.key} {extra!r}", make=lambda: {**self._made(), **extra})


def paper_view(paper: Paper, topic_names: dict[str, str]) -> View:
    """What templates need of one paper: plain values, links and chips, nothing raw."""
    # the digest covers the file and the topics: all the view shows
    return View(key=paper.digest or None, make=lambda: _paper_items(paper, topic_names))


def _paper_items(paper: Paper, topic_names: dict[str, str]) -> dict:
    links = []
    if paper.arxiv:
        links.append(("arXiv", f"https://arxiv.org/abs/{paper.arxiv}"))
    for label, url in (("PDF", metadata.pdf_url(paper)), ("Paper", paper.url), ("Code", paper.code)):
        if url:
            links.append((label, url))
    if paper.doi:
        links.append(("DOI", f"https://doi.org/{paper.doi}"))
    if not (paper.arxiv or paper.pdf or paper.url or paper.doi):  # no link to the paper: help find it
        query = quote_plus(paper.title)
        links += [
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
        "venue": paper.journal or paper.proceedings or "",
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


@dataclass(frozen=True)
class Derived:
    """Everything computed from the catalogue before rendering (all keyed by slug or path)."""

    abstracts: dict[str, str]
    files: tuple[OutputFile, ...] = ()  # made before rendering: the search index and the feeds
    catalogue_key: str = ""  # a digest of every paper, for keys of files made from all of them
    citation_keys: dict[str, str] = field(default_factory=dict)
    bibtex: dict[str, str] = field(default_factory=dict)
    bibliography: str = ""
    related: dict[str, tuple] = field(default_factory=dict)
    topics: tuple[TermPage, ...] = ()
    tags: tuple[TermPage, ...] = ()


PAGE_SIZE = 100  # papers per listing page: 10,000 papers on one page would be megabytes


UNLISTED = ("404.html", "papers/index.html")  # pages left out of the sitemap: not for search engines


def _versions(papers, views) -> dict[str, tuple[str, ...]]:
    """Each paper's other versions, by slug: those its `same_as` names, and those naming it."""
    linked: dict[str, set[str]] = {}
    for p in papers:
        if p.same_as and p.same_as in views and p.same_as != p.slug:
            linked.setdefault(p.slug, set()).add(p.same_as)
            linked.setdefault(p.same_as, set()).add(p.slug)
    return {slug: tuple(sorted(others)) for slug, others in linked.items()}


def paginate(base: str, items: list) -> list[tuple[str, list, dict]]:
    """(output path, items, pager) per page: base, then base + "page/2/", …"""
    chunks = [items[i : i + PAGE_SIZE] for i in range(0, len(items), PAGE_SIZE)] or [[]]

    def url(n: int) -> str:
        return base + ("" if n == 1 else f"page/{n}/")

    pages = []
    for n, chunk in enumerate(chunks, start=1):
        pager = {
            "number": n,
            "count": len(chunks),
            "previous": url(n - 1) if n > 1 else "",
            "next": url(n + 1) if n < len(chunks) else "",
            "first_item": (n - 1) * PAGE_SIZE + 1,
            "last_item": (n - 1) * PAGE_SIZE + len(chunk),
            "total": len(items),
        }
        pages.append((url(n) + "index.html", chunk, pager))
    return pages


# json.dumps with these options makes an encoder per call, a third of the time of a small value
JSON_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def to_json(data) -> bytes:
    """Compact, sorted, UTF-8 JSON: the form of every JSON file of the site."""
    return JSON_ENCODER.encode(data).encode("utf-8")


def json_object(members: dict[str, bytes | tuple[bytes, ...]]) -> bytes:
    """to_json of an object, from its members' to_json (keys sorted as to_json sorts them),
    each whole or in parts to join: the object's bytes are joined once (each concatenation
    copied papers.json's 23 MB at 10,000 papers again)."""
    return b"".join(json_object_parts(members))


def json_object_parts(members: dict[str, bytes | tuple[bytes, ...]]) -> tuple[bytes, ...]:
    """json_object's bytes, in parts (to be a member's parts in turn)."""
    parts = [b"{"]
    for key in sorted(members):
        if len(parts) > 1:
            parts.append(b",")
        parts += (to_json(key), b":")
        value = members[key]
        if isinstance(value, tuple):
            parts.extend(value)
        else:
            parts.append(value)
    parts.append(b"}")
    return tuple(parts)


def _years(papers) -> dict[int, int]:
    return dict(Counter(p.year for p in papers if p.year))


@dataclass
class Kept:
    """What a long-lived process (serve) keeps from one render to the next: rendered listing
    entries (see _memoised_item) and paper pages' keys with what each was made of."""

    items: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)


def _memoised_item(env: jinja2.Environment, kept: dict | None = None, version: str = ""):
    """The `paper_item` macro of _macros.html, rendered once per paper, link prefix and
    options: listed_paper(p, root, show_added=True, level=3).

    Only a paper's view (see View: its key is a digest of all it shows) with a plain string
    prefix, a bool and an int is remembered: anything else a template passes (a dict of its
    own, a prefix marked safe) is rendered each time, as the macro itself would render it.
    `kept` (from a long-lived process) holds items of earlier builds by the view's key and
    `version` (templates and generator); the macro sees nothing but its arguments.
    """
    memo: dict[tuple, Markup] = {} if kept is None else kept
    if kept and next(iter(kept))[0] != version:
        kept.clear()  # made by other templates
    macros = []  # the macro, once loaded: the templates load after this global is set

    def render(view, root, show_added, level) -> Markup:
        if not macros:
            macro = getattr(env.get_template("_macros.html").module, "paper_item", None)
            if macro is None:
                raise jinja2.TemplateRuntimeError(
                    "templates/_macros.html has no paper_item macro, which listed_paper and "
                    "listed_papers render: keep one of that name"
                )
            macros.append(macro)
        return macros[0](view, root, show_added, level)

    def listed_paper(view, root: str, show_added: bool = True, level: int = 3) -> Markup:
        if not (type(view) is View and type(root) is str and type(show_added) is bool and type(level) is int):
            return render(view, root, show_added, level)
        key = (version, view.key, root, show_added, level)
        item = memo.get(key)
        if item is None:
            item = memo[key] = render(view, root, show_added, level)
        return item

    return listed_paper


def _listed_papers(
    listed_paper: Callable, papers, root: str, show_added: bool = True, level: int = 3
) -> Markup:
    """The `paper_list` macro's entries, one after the other: one call from the template
    instead of a loop of one call per entry (1.4 us an entry, 65,000 at 10,000 papers)."""
    return Markup("".join([listed_paper(p, root, show_added, level) for p in papers]))


def render_site(
    env: jinja2.Environment,
    catalogue: Catalogue,
    topics: tuple[TermPage, ...],
    tags: tuple[TermPage, ...],
    derived: Derived,
    writer: SiteWriter,
    previous: Previous | None = None,
    version: str = "",
    jobs: int | None = None,
    report: Callable[[str], Callable[[int, int], None]] | None = None,
    related: Callable[[], dict] | None = None,
    kept: Kept | None = None,
    busy: int = 0,
) -> tuple[int, int]:
    """Render every page and data file of the site into `writer`; return (pages, pages rendered).

    `report(what)` gives the progress callback for each kind of file rendered: "pages", then
    "paper pages and other files" (their .bib files, the feeds and the site's other data
    files, written beside them). `kept`: what a long-lived process keeps from earlier builds
    (see Kept). `busy`: processes
    at work elsewhere as the other pages render (the related papers, the search index), which
    take that many of the `jobs` cores.

    Paper pages and their .bib files come last, after `related()` (default: derived.related)
    gives the related papers, which may still be computed elsewhere while the other pages
    render (in this process, if the cores are `busy`).

    Each page gets a key: a digest of `version` (the generator and templates), its template
    and its context. A page whose key and path match `previous` (the last build's manifest,
    file still in place) is not rendered: the old file is kept. Pages are rendered, and
    written, by `jobs` processes: this one and forked workers (see parallel.map_ordered).
    """
    config = catalogue.config
    _ESCAPED.clear()  # (serve's builder) strings of earlier builds
    topic_names = {t.slug: t.name for t in catalogue.topics}
    views = {p.slug: paper_view(p, topic_names) for p in catalogue.papers}
    versions = _versions(catalogue.papers, views)
    outputs: list[OutputFile] = []
    kept_pages: list[str] = []  # not rendered: the last build's stay
    sitemap: list[tuple[str, dt.date | None]] = []
    listed_paper = env.globals["listed_paper"] = _memoised_item(env, kept and kept.items, version)
    env.globals["listed_papers"] = functools.partial(_listed_papers, listed_paper)
    known_keys = kept.keys if kept is not None else None
    # (path, template, context or (context, a function making the rest of it), key), or bytes
    pending: list[tuple[str, str, dict | tuple | bytes, str]] = []

    def key_of(path: str, stamp, make: Callable[..., str], *args) -> str:
        """make(*args), the key of `path`; or the key an earlier build made from an equal `stamp`
        (all that key is made of: comparing is quicker than digesting it again)."""
        if known_keys is None:
            return make(*args)
        known = known_keys.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
        key = make(*args)
        known_keys[path] = (stamp, key)
        return key

    def frame(path: str, title: str, root: str | None = None) -> dict:
        """What every page's context has: the site, the way to its root, its title and address."""
        return {
            "site": config,
            "root": _root(path) if root is None else root,
            "page_title": title,
            "canonical": config.base_url + path.removesuffix("index.html"),
        }

    def page(path: str, template: str, title: str, lastmod=None, root=None, **context) -> None:
        """Queue a page for rendering, unless the last build made it from the same inputs."""
        context.update(frame(path, title, root))
        queue(path, template, context, digest(version, template, repr(sorted(context.items()))), lastmod)

    def queue(path: str, template: str, context, key: str, lastmod) -> None:
        """Render the page later, unless the last build made `path` with this key. `context`
        may be a function that makes it, when needed."""
        if reusable(previous, path, key):
            writer.keep(path, key)
            kept_pages.append(path)
        else:
            pending.append((path, template, context() if callable(context) else context, key))
        if path not in UNLISTED:
            sitemap.append((path.removesuffix("index.html"), lastmod))

    def newest(papers):
        return max((p.added for p in papers), default=None)

    latest = newest(catalogue.papers)

    for path, chunk, pager in paginate("", catalogue.papers):  # newest `added` first
        groups: list[dict] = []
        for paper in chunk:
            if not groups or groups[-1]["added_iso"] != paper.added.isoformat():
                groups.append(
                    {"added": format_date(paper.added), "added_iso": paper.added.isoformat(), "papers": []}
                )
            groups[-1]["papers"].append(views[paper.slug])
        page(
            path,
            "index.html",
            "" if pager["number"] == 1 else f"Page {pager['number']}",
            lastmod=latest,
            groups=groups,
            pager=pager,
            feed="feed.xml",
            counts={"papers": len(catalogue.papers), "topics": len(topics), "tags": len(tags)},
        )

    def paper_context(paper: Paper) -> dict:
        description = summary(derived.abstracts[paper.slug], 200)
        return {
            "paper": views[paper.slug],
            "description": description,
            "meta": {
                "citation_date": metadata.citation_date(paper),
                "authors": [metadata.citation_author(a) for a in paper.authors],
                "pdf": metadata.pdf_url(paper),
                "doi": paper.doi,
                "arxiv": paper.arxiv,
                "journal": paper.journal or "",
                "conference": paper.proceedings or "",
            },
            "json_ld": metadata.json_ld(paper, config, description, topic_names),
            "bibtex": derived.bibtex.get(paper.slug, ""),
            "versions": [views[other] for other in versions.get(paper.slug, ())],
            "related": [
                views[other].extended(score=score, reason=", ".join(terms))
                for other, score, terms in derived.related.get(paper.slug, ())
            ],
        }

    paper_pages_at = len(sitemap)  # paper pages are listed here in the sitemap
    for kind, pages in (("topic", topics), ("tag", tags)):
        plural = kind + "s"
        page(
            f"{plural}/index.html",
            f"{plural}.html",
            plural.capitalize(),
            lastmod=latest,
            terms=[term_view(t) for t in pages],
        )
        for term in pages:
            name = term.name if kind == "topic" else f"Tag: {term.name}"
            chart = year_chart(_years(term.papers), f"Papers per year in {term.name}")
            term_latest, undated = newest(term.papers), sum(1 for p in term.papers if not p.year)
            for path, chunk, pager in paginate(
                f"{plural}/{term.slug}/", [views[p.slug] for p in term.papers]
            ):
                first = pager["number"] == 1
                page(
                    path,
                    "term.html",
                    name if first else f"{name}, page {pager['number']}",
                    lastmod=term_latest,
                    term=term_view(term),
                    kind=kind,
                    papers=chunk,
                    pager=pager,
                    feed=f"{plural}/{term.slug}/feed.xml",
                    chart=chart if first else "",
                    undated=undated,
                )
    page(
        "search/index.html",
        "search.html",
        "Search",
        facet_topics=[{"slug": t.slug, "name": t.name} for t in catalogue.topics],
        facet_tags=[t.slug for t in tags],
        facet_years=sorted({p.year for p in catalogue.papers if p.year}),
    )
    years = _years(catalogue.papers)
    page(
        "stats/index.html",
        "stats.html",
        "Statistics",
        lastmod=latest,
        counts={"papers": len(catalogue.papers), "topics": len(topics), "tags": len(tags)},
        topics=[term_view(t) for t in sorted(topics, key=lambda t: (-len(t.papers), t.slug))],
        tags=[term_view(t) for t in sorted(tags, key=lambda t: (-len(t.papers), t.slug))],
        years=sorted(years.items(), reverse=True),
        undated=sum(1 for p in catalogue.papers if not p.year),
        chart=year_chart(years, "Papers per year in the catalogue"),
        with_code=sum(1 for p in catalogue.papers if p.code),
    )
    page("papers/index.html", "papers.html", "Papers", count=len(catalogue.papers))  # leads home
    # served for any missing path at any depth: the only page whose links start at "/"
    page("404.html", "404.html", "Page not found", root=urlsplit(config.base_url).path)

    def render_pending(what: str, jobs: int | None) -> int:
        """Render and write the files queued so far (`what`, to report) in `jobs` processes;
        return the number of pages rendered."""
        queued = list(pending)
        pending.clear()

        def render(n: int) -> tuple[str, list, bool]:  # here or in a worker: render, write if changed
            path, template, context, key = queued[n]
            if not template:
                return writer.stage(path, context, key)
            if isinstance(context, tuple):
                context = {**context[0], **context[1]()}
            return writer.stage(path, _render_page(env, template, context).encode("utf-8"), key)

        progress = report(what) if report else None

        def promise_folders() -> None:  # see SiteWriter.promise_folders
            writer.promise_folders(path for path, template, _, _ in queued if template)

        for staged in parallel.map_ordered(
            render, range(len(queued)), jobs, progress, promise_folders, writer.make_promised_folders
        ):
            writer.record(staged)
        return sum(1 for _, template, _, _ in queued if template)

    # A worker of its own copies each page of memory it touches, and renders again the list
    # entries this process has (see _memoised_item): with the cores busy it would only slow
    # the rest (at 10,000 papers, cold builds took 0.4 s longer with one).
    rendered = render_pending("pages", max(1, (jobs or parallel.default_jobs()) - busy))
    derived = dataclasses.replace(derived, related=related()) if related else derived
    listed = len(sitemap)
    config_text = repr(config)

    def lazy_context(path: str, paper: Paper) -> tuple:
        """A paper page's context, in two: the frame, and what the process that renders the
        page makes (few are rendered: not all here first, one by one)."""
        return frame(path, paper.title), functools.partial(paper_context, paper)

    def paper_key(path: str, paper: Paper, bibtex: str, related: list, others: tuple) -> str:
        return digest(
            version,
            "paper.html",
            config_text,
            path,
            paper.title,
            paper.digest,
            bibtex,
            value_bytes(related),
            value_bytes(others),
        )

    # The .bib files go first: this process writes them, from the first, while a worker renders
    # pages from the last (see map_ordered), so that only one process makes entries in papers/
    # at a time (see SiteWriter.promise_folders).
    bib_files = []
    for paper in catalogue.papers:  # its .bib file and its page (written with the pages)
        if paper.slug in derived.bibtex:
            path, entry = f"papers/{paper.slug}.bib", derived.bibtex[paper.slug]
            key = key_of(path, (version, entry), digest, version, entry)
            if reusable(previous, path, key):
                writer.keep(path, key)
            else:
                bib_files.append((path, "", entry.encode("utf-8"), key))
        path = f"papers/{paper.slug}/index.html"
        if not paper.digest:  # not read from a file (tests): keyed by its whole context
            page(path, "paper.html", paper.title, lastmod=paper.added, **paper_context(paper))
            continue
        # what paper_context reads: the paper (its digest covers the topics) and these
        bibtex = derived.bibtex.get(paper.slug, "")
        related_keys = [
            (views[other].key, score, terms) for other, score, terms in derived.related.get(paper.slug, ())
        ]
        others = tuple(views[other].key for other in versions.get(paper.slug, ()))  # other versions
        stamp = (version, config, paper.title, paper.digest, bibtex, related_keys, others)
        key = key_of(path, stamp, paper_key, path, paper, bibtex, related_keys, others)
        queue(path, "paper.html", functools.partial(lazy_context, path, paper), key, paper.added)
    pending[:0] = bib_files
    paper_entries = sitemap[listed:]
    del sitemap[listed:]
    sitemap[paper_pages_at:paper_pages_at] = paper_entries
    outputs.extend(sorted(derived.files, key=lambda f: f.path))  # feeds (and the search index, if made here)
    outputs.append(OutputFile("papers.bib", derived.bibliography.encode("utf-8")))  # linked from every page
    outputs.append(OutputFile("papers.schema.json", json.dumps(metadata.PAPERS_SCHEMA, indent=2).encode()))
    outputs.append(
        keyed(
            previous,
            "sitemap.xml",
            digest(
                version,
                repr(config),
                value_digest([(path, day and day.toordinal()) for path, day in sitemap]),
            ),
            lambda: metadata.sitemap_xml(config, sitemap),
        )
    )
    outputs.append(OutputFile("robots.txt", metadata.robots_txt(config)))
    # Written with the paper pages, by whichever process takes them (the last items: a worker,
    # as a rule): after the pages, this process alone wrote them (22 MB at 10,000 papers).
    pending.extend((out.path, "", out.data, out.key) for out in outputs)
    rendered += render_pending("paper pages and other files", jobs)
    pages = rendered + sum(1 for path in kept_pages if path.endswith(".html"))
    return pages, rendered
