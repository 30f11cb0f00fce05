"""Load `content/site.yml` and `content/topics.yml` into SiteConfig and Topics."""

from __future__ import annotations

import difflib
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from . import frontmatter as fm
from .errors import ContentError, utf8_error
from .frontmatter import FieldError, FrontMatterError
from .model import SiteConfig, Topic
from .schema import SLUG_RE

SITE_KEYS = ("title", "description", "base_url", "language")
TOPIC_KEYS = ("slug", "name", "description", "keywords")


def _read(path: Path, label: str) -> tuple[yaml.Node | None, list[ContentError]]:
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except FileNotFoundError:
        return None, [
            ContentError(
                label,
                0,
                0,
                "file is missing",
                "every catalogue needs content/site.yml and content/topics.yml",
            )
        ]
    except UnicodeDecodeError as exc:
        return None, [utf8_error(label, data, exc)]
    try:
        return fm.compose(fm.normalise_text(text), label), []
    except FrontMatterError as exc:
        return None, exc.errors


def _located(path: str, exc: FieldError) -> ContentError:
    line, col = fm.position(exc.node)
    return ContentError(path, line, col, exc.message, exc.hint)


def _unknown_key(path: str, key: str, kpos: fm.Value, allowed) -> ContentError:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean '{close[0]}'?" if close else "allowed: " + ", ".join(allowed)
    return ContentError(path, kpos.line, kpos.col, f"unknown field '{key}'", hint)


def _values(label: str, fields, allowed, errors: list[ContentError]) -> dict:
    """Allowed fields as stripped strings (`keywords` as a lowercased tuple); problems to `errors`."""
    values: dict = {}
    for key, (kpos, vpos) in fields.items():
        if key not in allowed:
            errors.append(_unknown_key(label, key, kpos, allowed))
            continue
        try:
            if key == "keywords":
                values[key] = tuple(s.strip().lower() for s, _ in fm.text_list(vpos.node, key))
            else:
                values[key] = fm.text(vpos.node, key).strip()
        except FieldError as exc:
            errors.append(_located(label, exc))
    return values


def normalise_base_url(url: str) -> str:
    """Ensure the base URL ends with '/' so relative joins keep its path."""
    return url if url.endswith("/") else url + "/"


def base_url_problem(url: str) -> str:
    """Why a base URL is unusable, or '' when it is an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        return f"base_url '{url}' is not an absolute http(s) URL"
    return ""


def load_site_config(path: Path, label: str) -> tuple[SiteConfig | None, list[ContentError]]:
    """Read and check site.yml: title and base_url required, base_url absolute http(s)."""
    root, errors = _read(path, label)
    if errors:
        return None, errors
    try:
        fields = fm.mapping(root, label)
    except FrontMatterError as exc:
        return None, exc.errors
    values = _values(label, fields, SITE_KEYS, errors)
    for key in ("title", "base_url"):
        if key not in fields:
            errors.append(ContentError(label, 1, 0, f"missing required field '{key}'"))
    base = values.get("base_url", "")
    if base and base_url_problem(base):
        vpos = fields["base_url"][1]
        errors.append(
            ContentError(
                label, vpos.line, vpos.col, base_url_problem(base), "e.g. https://<user>.github.io/<repo>/"
            )
        )
    if errors:
        return None, errors
    return SiteConfig(
        title=values["title"],
        description=values.get("description", ""),
        base_url=normalise_base_url(base),
        language=values.get("language") or "en",
    ), []


def load_topics(path: Path, label: str) -> tuple[tuple[Topic, ...], list[ContentError]]:
    """Read and check topics.yml: a list of {slug, name, description, keywords}."""
    root, errors = _read(path, label)
    if errors:
        return (), errors
    if not isinstance(root, yaml.SequenceNode):
        return (), [
            ContentError(
                label,
                1,
                1,
                "topics.yml must be a list of topics",
                "each item: '- slug: …' with name, description, keywords",
            )
        ]
    topics: list[Topic] = []
    seen: dict[str, int] = {}
    for item in root.value:
        try:
            fields = fm.mapping(item, label)
        except FrontMatterError as exc:
            errors.extend(exc.errors)
            continue
        line, col = fm.position(item)
        values = _values(label, fields, TOPIC_KEYS, errors)
        for key in ("slug", "name"):
            if key not in fields:
                errors.append(ContentError(label, line, col, f"topic is missing '{key}'"))
        slug = values.get("slug", "")
        if "slug" in fields and not SLUG_RE.match(slug):
            errors.append(
                ContentError(
                    label,
                    fields["slug"][1].line,
                    fields["slug"][1].col,
                    f"topic slug '{slug}' is not a slug",
                    "lowercase letters and digits joined by single hyphens",
                )
            )
        elif slug in seen:
            errors.append(
                ContentError(
                    label, line, col, f"topic '{slug}' is defined twice (first on line {seen[slug]})"
                )
            )
        elif slug:
            seen[slug] = line
        if slug and "name" in values:
            topics.append(
                Topic(slug, values["name"], values.get("description", ""), values.get("keywords", ()))
            )
    if not root.value:
        errors.append(ContentError(label, 1, 0, "topics.yml defines no topics"))
    return tuple(topics), errors
