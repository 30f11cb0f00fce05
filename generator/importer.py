"""`import`: turn a daily-papers listing into paper files, never overwriting anything."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from slugify import slugify

from . import config, frontmatter, listing, suggest, typography
from .errors import BuildFailed, ContentError, UsageError
from .load import display_path
from .schema import SLUG_MAX
from .validate import normalise_title


@dataclass
class ImportReport:
    """What an import did: files written, entries skipped and why."""

    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    dry_run: bool = False

    def lines(self) -> list[str]:
        """Human-readable report, one line per paper, then a summary."""
        verb = "would write" if self.dry_run else "wrote"
        out = [f"{verb} {path}" for path in self.written] + self.skipped
        out.append(f"{len(self.written)} new, {len(self.skipped)} already in the catalogue"
                   + (" (dry run: nothing written)" if self.dry_run else ""))
        return out


def _q(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def _list(values) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def paper_file(meta: dict, body: str) -> str:
    """The text of a paper file in the canonical field order."""
    lines = ["---", f"title: {_q(meta['title'])}", f"authors: {_list(meta.get('authors', ()))}"]
    for key in ("date", "added", "arxiv", "doi", "url", "pdf", "code"):
        if meta.get(key):
            lines.append(f"{key}: {_q(meta[key])}")
    lines.append(f"topics: {_list(meta['topics'])}")
    lines.append(f"tags: {_list(meta.get('tags', ()))}")
    if meta.get("source"):
        lines.append(f"source: {_q(meta['source'])}")
    return "\n".join(lines) + "\n---\n\n" + body.strip() + "\n"


def existing_papers(papers_dir: Path) -> tuple[dict[str, str], tuple[str, ...]]:
    """Normalised title -> slug of every paper already present, and the tags in use."""
    titles: dict[str, str] = {}
    tags: set[str] = set()
    if not papers_dir.is_dir():
        return titles, ()
    for path in sorted(papers_dir.glob("*.md")):
        titles.setdefault("\0slug:" + path.stem, path.stem)
        try:
            fields = frontmatter.parse(path.read_text(encoding="utf-8"), path.name).fields
        except (frontmatter.FrontMatterError, UnicodeDecodeError):
            continue
        if "title" in fields and isinstance(fields["title"][1].node.value, str):
            titles.setdefault(normalise_title(fields["title"][1].node.value), path.stem)
        if "tags" in fields:
            try:
                tags.update(t for t, _ in frontmatter.text_list(fields["tags"][1].node, "tags"))
            except frontmatter.FieldError:
                pass
    return titles, tuple(sorted(tags))


def make_slug(title: str, taken) -> str:
    """Slug from the title (at most 80 characters, cut at a word), unique against `taken`."""
    base = slugify(title, max_length=SLUG_MAX, word_boundary=True) or "paper"
    slug, n = base, 2
    while slug in taken:
        suffix = f"-{n}"
        slug = base[: SLUG_MAX - len(suffix)].rstrip("-") + suffix
        n += 1
    return slug


def import_listing(root: Path, listing_path: Path, *, added: str | None = None,
                   dry_run: bool = False, today: dt.date | None = None) -> ImportReport:
    """Parse, clean, suggest topics and tags, then write new papers; all or nothing."""
    content = root / "content"
    added = added or (today or dt.date.today()).isoformat()
    try:
        dt.date.fromisoformat(added)
    except ValueError:
        raise UsageError(f"--added must be a date YYYY-MM-DD, not {added!r}") from None
    label = display_path(listing_path, root)
    try:
        text = listing_path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UsageError(f"listing not found: {listing_path}") from None
    except UnicodeDecodeError as exc:
        raise BuildFailed([ContentError(label, 0, 0, f"listing is not valid UTF-8 ({exc.reason})")]) from None
    parsed, errors = listing.parse_listing(text, label)
    topics, topic_errors = config.load_topics(content / "topics.yml", "content/topics.yml")
    if errors or topic_errors:
        raise BuildFailed(errors + topic_errors)
    source_label = _source_label(listing_path, root)
    papers_dir = content / "papers"
    known, known_tags = existing_papers(papers_dir)
    report = ImportReport(dry_run=dry_run)
    pending: dict[str, str] = {}
    for entry in parsed.entries:
        title = typography.clean(entry.title)
        abstract = typography.clean(entry.abstract)
        norm = normalise_title(title)
        if norm in known:
            report.skipped.append(f"skipped {label}:{entry.title_line}: '{title}' is already "
                                  f"in the catalogue as content/papers/{known[norm]}.md (left untouched)")
            continue
        slug = make_slug(title, {s for k, s in known.items()} | set(pending))
        chosen = suggest.suggest_topics(title, abstract, topics)
        meta = {
            "title": title, "authors": [], "added": added,
            "code": typography.code_url(abstract),
            "topics": chosen,
            "tags": suggest.suggest_tags(title, abstract, topics, chosen, known_tags),
            "source": f"{source_label}:{entry.title_line}",
        }
        pending[slug] = paper_file(meta, typography.to_markdown(abstract))
        known[norm] = slug
        report.written.append(f"content/papers/{slug}.md")
    if not dry_run:
        _write_all(papers_dir, pending)
    return report


def _source_label(listing_path: Path, root: Path) -> str:
    """Where the raw text lives: relative to content/ or the project, else the file name."""
    resolved = listing_path.resolve()
    for base in (root / "content", root):
        if resolved.is_relative_to(base.resolve()):
            return resolved.relative_to(base.resolve()).as_posix()
    return listing_path.name


def _write_all(papers_dir: Path, files: dict[str, str]) -> None:
    """Write each new file via a temporary name; never replace an existing file."""
    papers_dir.mkdir(parents=True, exist_ok=True)
    for slug, text in files.items():
        target = papers_dir / f"{slug}.md"
        tmp = papers_dir / f".{slug}.md.tmp"
        tmp.write_text(text, encoding="utf-8")
        try:
            os.link(tmp, target)  # fails if target exists: nothing is overwritten
        finally:
            tmp.unlink()
