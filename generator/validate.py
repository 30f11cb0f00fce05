"""Turn raw documents into validated Papers, collecting every located error."""

from __future__ import annotations

import datetime as dt
import difflib
import re
from urllib.parse import urlsplit

from . import frontmatter as fm
from .duplicates import check_duplicates, check_tag_collisions
from .errors import ContentError
from .frontmatter import FieldError, FrontMatterError
from .load import RawDocument
from .model import Paper, Topic
from .schema import (ARXIV_RE, DATE_RE, DOI_RE, FIELD_NAMES, FIELDS, FULL_DATE_RE, SLUG_MAX,
                     SLUG_RE)
from slugify import slugify

REQUIRED = tuple(f.name for f in FIELDS if f.required)
KIND = {f.name: f.kind for f in FIELDS}


def validate(docs: list[RawDocument], topics: tuple[Topic, ...]):
    """Validate all documents; return (papers, errors). Cross-file checks run last."""
    topic_slugs = {t.slug for t in topics}
    papers: list[Paper] = []
    errors: list[ContentError] = []
    for doc in docs:
        paper, errs = validate_document(doc, topic_slugs)
        errors.extend(errs)
        if paper is not None:
            papers.append(paper)
    errors.extend(check_duplicates(papers))
    errors.extend(check_tag_collisions(papers))
    return papers, errors


def validate_document(doc: RawDocument, topic_slugs: set[str]):
    """Validate one file; return (Paper or None, errors)."""
    errors: list[ContentError] = []
    if not SLUG_RE.match(doc.stem) or len(doc.stem) > SLUG_MAX:
        errors.append(ContentError(
            doc.path, 0, 0, f"file name '{doc.stem}.md' is not a valid slug",
            f"rename it to '{slugify(doc.stem, max_length=SLUG_MAX, word_boundary=True) or 'paper'}.md'"
            " (lowercase letters and digits joined by single hyphens, at most 80 characters)"))
    try:
        parsed = fm.parse(doc.text, doc.path)
    except FrontMatterError as exc:
        return None, errors + exc.errors
    values: dict = {}
    for key, (kpos, vpos) in parsed.fields.items():
        if key not in FIELD_NAMES:
            close = difflib.get_close_matches(key, FIELD_NAMES, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else "allowed fields: " + ", ".join(FIELD_NAMES)
            errors.append(ContentError(doc.path, kpos.line, kpos.col, f"unknown field '{key}'", hint))
            continue
        try:
            value = _convert(key, vpos.node, topic_slugs)
        except FieldError as exc:
            line, col = fm.position(exc.node, 1)
            errors.append(ContentError(doc.path, line, col, exc.message, exc.hint))
            continue
        if value is not None:
            values[key] = value
    for key in REQUIRED:
        if key not in parsed.fields:
            errors.append(ContentError(doc.path, 1, 1, f"missing required field '{key}'",
                                       _required_hint(key)))
    if "topics" in values and not values["topics"]:
        _, vpos = parsed.fields["topics"]
        errors.append(ContentError(doc.path, vpos.line, vpos.col, "a paper needs at least one topic",
                                   "pick from content/topics.yml"))
    if errors:
        return None, errors
    return Paper(slug=doc.stem, body_md=parsed.body.strip("\n") + "\n", path=doc.path,
                 authors=values.pop("authors", ()), tags=values.pop("tags", ()),
                 positions=_positions(parsed), **values), []


def _positions(parsed: fm.FrontMatter) -> tuple[tuple[str, int, int], ...]:
    """Where each field's value, each tag and the body start, for later cross-file messages."""
    out = [(key, vpos.line, vpos.col) for key, (_, vpos) in parsed.fields.items()]
    if "tags" in parsed.fields:
        node = parsed.fields["tags"][1].node
        if isinstance(node, fm.yaml.SequenceNode):
            out += [(f"tags:{item.value}", *fm.position(item, 1)) for item in node.value]
    skipped = len(parsed.body) - len(parsed.body.lstrip("\n"))
    out.append(("body", parsed.body_line + parsed.body[:skipped].count("\n"), 1))
    return tuple(out)


def _required_hint(key: str) -> str:
    field = next(f for f in FIELDS if f.name == key)
    return f"add it, e.g. {key}: {field.example}"


def _convert(key: str, node, topic_slugs: set[str]):
    """Convert one field's node to its model value, or raise FieldError at the bad node."""
    kind = KIND[key]
    if kind == "list":
        items = fm.text_list(node, key)
        return _convert_list(key, items, topic_slugs)
    if isinstance(node, fm.yaml.ScalarNode) and node.tag == fm.NULL and key not in REQUIRED:
        return None
    value = fm.text(node, key).strip()
    if key == "title":
        if not value:
            raise FieldError(node, "'title' is empty")
        if "\n" in value:
            raise FieldError(node, "'title' must be a single line")
        return value
    if kind == "date":
        return _full_date(node, value, key)
    if kind == "partial-date":
        if not DATE_RE.match(value):
            raise FieldError(node, f"'{key}' must be YYYY-MM-DD, YYYY-MM or YYYY, not '{value}'")
        _full_date(node, (value + "-01-01")[:10], key)
        return value
    if kind == "arxiv":
        if not ARXIV_RE.match(value):
            raise FieldError(node, f"'{value}' is not an arXiv identifier",
                             'use the id as arXiv shows it, quoted: arxiv: "2310.06770"')
        return value
    if kind == "doi":
        bare = re.sub(r"^https://(dx\.)?doi\.org/", "", value)
        if not DOI_RE.match(bare):
            raise FieldError(node, f"'{value}' is not a DOI", 'e.g. doi: "10.18653/v1/2023.acl-long.1"')
        return bare
    if kind == "slug":
        if not SLUG_RE.match(value):
            raise FieldError(node, f"'{key}' must be the slug (file name without .md) of another paper")
        return value
    if kind == "url":
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.netloc or any(c.isspace() for c in value):
            raise FieldError(node, f"'{key}' must be an absolute https:// URL, not '{value}'")
        return value
    return value


def _full_date(node, value: str, key: str) -> dt.date:
    if not FULL_DATE_RE.match(value):
        raise FieldError(node, f"'{key}' must be a quoted date YYYY-MM-DD, not '{value}'")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FieldError(node, f"'{value}' is not a real calendar date") from None


def _convert_list(key: str, items, topic_slugs: set[str]) -> tuple[str, ...]:
    out: list[str] = []
    for value, node in items:
        value = value.strip()
        if not value:
            raise FieldError(node, f"empty item in '{key}'")
        if key == "topics" and value not in topic_slugs:
            close = difflib.get_close_matches(value, sorted(topic_slugs), n=1, cutoff=0.6)
            hint = (f"did you mean '{close[0]}'?" if close else
                    "topics in content/topics.yml: " + ", ".join(sorted(topic_slugs)))
            raise FieldError(node, f"unknown topic '{value}'", hint)
        if key == "tags" and not SLUG_RE.match(value):
            raise FieldError(node, f"tag '{value}' is not a slug",
                             f"write it as '{slugify(value) or 'tag'}' (lowercase words joined by hyphens)")
        if value in out:
            raise FieldError(node, f"'{value}' is listed twice in '{key}'")
        out.append(value)
    return tuple(out)
