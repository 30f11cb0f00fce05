"""Adding papers: from a daily-papers listing, a BibTeX file, or flags (`new`).

All three produce Candidates that go through one pipeline: clean the text, skip or refuse
papers already in the catalogue, suggest topics and tags, validate the file we would
write, then write every new file or none.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import config, frontmatter, suggest, typography
from .duplicates import KIND_WORDS, identity_keys
from .errors import BuildFailed, ContentError, UsageError
from .load import RawDocument, load_documents, read_document
from .schema import FULL_DATE_RE, SLUG_MAX
from .validate import TopicIndex, cut_slug, title_slug, validate, validate_document


@dataclass(frozen=True, slots=True)
class Candidate:
    """A paper to add, as read from its source, with the 1-based line it came from."""

    title: str
    abstract: str
    line: int = 0
    authors: tuple[str, ...] = ()
    date: str | None = None
    arxiv: str | None = None
    doi: str | None = None
    url: str | None = None
    pdf: str | None = None
    code: str | None = None
    journal: str | None = None
    proceedings: str | None = None
    topics: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # given explicitly (`new --tag`): used as they are
    keywords: tuple[str, ...] = ()  # from the source (BibTeX): kept if the catalogue uses them
    left_out: tuple[str, ...] = ()  # the source's fields a paper file has no place for


@dataclass
class ImportReport:
    """What an import did: files written, entries skipped and why."""

    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a written paper left out, and why
    dry_run: bool = False
    kept: str = ""  # where a copy of the source file was kept, if one was made

    def lines(self) -> list[str]:
        """Human-readable report, one line per paper, then a summary and what to do next."""
        verb = "would write" if self.dry_run else "wrote"
        out = [f"{verb} {path}" for path in self.written] + self.notes + self.skipped
        if self.kept:
            out.append(f"kept the source file as {self.kept} (papers' source: fields point at it)")
        out.append(
            f"{len(self.written)} new, {len(self.skipped)} skipped"
            + (" (dry run: nothing written)" if self.dry_run else "")
        )
        if self.written and not self.dry_run:
            out.append(
                "next: in each new file, check the suggested topics and tags and fill in what the "
                "source lacked (authors, date, arxiv, doi or url), then run `make check`"
            )
        return out


def _q(value: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value, ensure_ascii=False)


def _list(values) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def paper_file(meta: dict, body: str) -> str:
    """The text of a paper file in the canonical field order."""
    lines = ["---", f"title: {_q(meta['title'])}", f"authors: {_list(meta.get('authors', ()))}"]
    for key in ("date", "added", "arxiv", "doi", "url", "pdf", "code", "journal", "proceedings"):
        if meta.get(key):
            lines.append(f"{key}: {_q(meta[key])}")
    lines.append(f"topics: {_list(meta['topics'])}")
    lines.append(f"tags: {_list(meta.get('tags', ()))}")
    if meta.get("source"):
        lines.append(f"source: {_q(meta['source'])}")
    return "\n".join(lines) + "\n---\n\n" + body.strip() + "\n"


@dataclass
class Existing:
    """What the catalogue already holds: identity keys -> slug, the tags in use, and the files
    that could not be read (slug -> why), whose papers cannot be compared."""

    keys: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    unreadable: dict[str, str] = field(default_factory=dict)

    def match(self, c: Candidate) -> tuple[str, str] | None:
        """(how, slug) of the paper this candidate duplicates, if any."""
        for how, key in _identity(c):
            if key in self.keys:
                return how, self.keys[key]
        return None


def _identity(c: Candidate) -> list[tuple[str, str]]:
    return [(KIND_WORDS[kind], f"{kind}:{key}") for kind, key in identity_keys(c.title, c.arxiv, c.doi)]


def existing_papers(papers_dir: Path) -> Existing:
    """Scan content/papers/ leniently: even a file with errors still claims its slug and title."""
    found = Existing()
    tags: set[str] = set()
    if not papers_dir.is_dir():
        return found
    for path in sorted(papers_dir.glob("*.md")):
        found.keys.setdefault("slug:" + path.stem, path.stem)
        if path.name.startswith(".") or path.is_symlink() or not path.is_file():
            continue  # `check` reports these; never read through them
        doc, problem = read_document(str(path), path.name, path.stem)  # the build's own reading
        if problem is None:
            try:
                fields = frontmatter.parse(doc.text, path.name).fields
            except frontmatter.FrontMatterError as exc:
                problem = exc.errors[0]
        if problem is not None:
            found.unreadable[path.stem] = problem.message
            continue
        values = {
            name: fields[name][1].node.value
            for name in ("title", "arxiv", "doi")
            if name in fields and isinstance(fields[name][1].node.value, str)
        }
        for kind, key in identity_keys(values.get("title", ""), values.get("arxiv"), values.get("doi")):
            if key:
                found.keys.setdefault(f"{kind}:{key}", path.stem)
        if "tags" in fields:
            try:
                tags.update(t for t, _ in frontmatter.text_list(fields["tags"][1].node, "tags"))
            except frontmatter.FieldError:
                pass
    found.tags = tuple(sorted(tags))
    return found


def _tags_for(c: Candidate, topics, chosen: tuple[str, ...], known: tuple[str, ...]) -> tuple[str, ...]:
    """Source keywords the catalogue already uses (all of them for a first import), then suggestions."""
    kept = [k for k in c.keywords if not known or k in known]
    suggested = suggest.suggest_tags(c.title, c.abstract, topics, chosen, known)
    return tuple(dict.fromkeys(kept + list(suggested)))[: suggest.MAX_TAGS]


def _keywords_note(keywords, tags, topics, topic_index) -> str:
    """What became of a source's keywords: tags, topics, or left out (not tags here yet)."""
    parts = []
    as_tags = [k for k in keywords if k in tags]
    as_topics = [k for k in keywords if k not in tags and topic_index.topic_of(k) in topics]
    left_out = [k for k in keywords if k not in as_tags and k not in as_topics]
    if as_tags:
        parts.append(f"{', '.join(as_tags)} as tags")
    if as_topics:
        parts.append(f"{', '.join(as_topics)} as topics")
    if left_out:
        parts.append(f"left out {', '.join(left_out)}: no paper has them as tags yet (add them by hand)")
    return "keywords: " + "; ".join(parts)


def make_slug(title: str, taken) -> str:
    """Slug from the title (at most 80 characters, cut at a word), unique against `taken`."""
    base = title_slug(title) or "paper"
    slug, n = base, 2
    while slug in taken:
        suffix = f"-{n}"
        slug = cut_slug(base, SLUG_MAX - len(suffix)) + suffix
        n += 1
    return slug


def check_added(added: str | None, today: dt.date | None = None) -> str:
    """The `added` date to write: given (validated) or today."""
    added = added or (today or dt.date.today()).isoformat()
    if not FULL_DATE_RE.match(added):
        raise UsageError(f"--added must be a date YYYY-MM-DD, not {added!r}")
    try:
        dt.date.fromisoformat(added)
    except ValueError:
        raise UsageError(f"--added {added!r} is not a real calendar date") from None
    return added


def add_papers(
    root: Path,
    candidates: list[Candidate],
    *,
    source: str | None,
    added: str,
    dry_run: bool = False,
    refuse_duplicates: bool = False,
    label: str = "",
    today: dt.date | None = None,
) -> tuple[ImportReport, dict[str, str]]:
    """Turn candidates into paper files under content/papers/ (all or nothing).

    Duplicates of papers already present (or earlier in the same source) are skipped and
    reported, or, with `refuse_duplicates`, are errors; so is a paper whose file name is taken
    by a file that cannot be read. Returns the report and {slug: file text}.
    """
    content = root / "content"
    topics, topic_errors = config.load_topics(content / "topics.yml", "content/topics.yml")
    if topic_errors:
        raise BuildFailed(topic_errors)
    topic_index = TopicIndex.of(topics)
    papers_dir = content / "papers"
    existing = existing_papers(papers_dir)
    report = ImportReport(dry_run=dry_run)
    pending: dict[str, str] = {}
    origin: dict[str, str] = {}  # slug -> where its paper came from, and its line there
    lines: dict[str, int] = {}
    errors: list[ContentError] = []
    skipped: list[tuple[int, str]] = []  # (line, report line), put in the source's order
    if existing.unreadable and not refuse_duplicates:
        names = ", ".join(f"content/papers/{stem}.md" for stem in list(existing.unreadable)[:3])
        more = len(existing.unreadable) - 3
        report.notes.append(
            f"could not read {names}{f' and {more} more' if more > 0 else ''}: new papers were not "
            "compared with what they hold; `check` says what is wrong"
        )
    if added > (today or dt.date.today()).isoformat():
        report.notes.append(f"'added' {added} is in the future: `check` will warn until that day")
    for c in candidates:
        title, abstract = typography.clean(c.title), typography.clean_paragraphs(c.abstract)
        c = dataclasses.replace(c, title=title, abstract=abstract)
        where = f"{label}:{c.line}" if c.line else label
        dup = existing.match(c)
        base = title_slug(title) or "paper"
        if dup or base in existing.unreadable:
            if dup and dup[1] in pending:
                how, slug = dup
                message = f"'{title}' is in this file twice ({how}): taken from {origin[slug]}"
                hint = "remove one of the two"
            elif dup:
                how, slug = dup
                message = f"'{title}' is already in the catalogue as content/papers/{slug}.md ({how})"
                hint = "edit that file instead, or link a new version with same_as"
            else:
                message = (
                    f"its file name is taken by content/papers/{base}.md, which cannot be read"
                    f" ({existing.unreadable[base]})"
                )
                hint = "fix that file (`check` says how), then try again"
            if refuse_duplicates:
                errors.append(ContentError(label or "new paper", c.line, 0, message, hint))
            else:
                skipped.append((c.line, f"skipped {where}: {message}; {hint}"))
            continue
        slug = make_slug(title, set(existing.keys.values()) | set(pending))
        named = tuple(dict.fromkeys(t for k in c.keywords if (t := topic_index.topic_of(k))))
        chosen = (
            c.topics
            or tuple(dict.fromkeys(named + suggest.suggest_topics(title, abstract, topics)))[
                : max(len(named), suggest.MAX_TOPICS)
            ]
        )
        tags = c.tags or _tags_for(c, topics, chosen, existing.tags)
        meta = {
            "title": title,
            "authors": c.authors,
            "date": c.date,
            "added": added,
            "arxiv": c.arxiv,
            "doi": c.doi,
            "url": c.url,
            "pdf": c.pdf,
            "code": c.code or typography.code_url(abstract),
            "journal": c.journal,
            "proceedings": c.proceedings,
            "topics": chosen,
            "tags": tags,
            "source": f"{source}:{c.line}" if source and c.line else source,
        }
        text = paper_file(meta, typography.to_markdown(abstract))
        path = f"content/papers/{slug}.md"
        if c.keywords and not c.tags:
            report.notes.append(f"  {path}: {_keywords_note(c.keywords, tags, chosen, topic_index)}")
        if c.left_out:
            report.notes.append(
                f"  {path}: left out {', '.join(c.left_out)} (a paper file has no such fields)"
            )
        if not abstract.strip():
            report.notes.append(
                f"  {path}: no abstract in the source: paste the paper's below the front matter"
            )
        _, problems = validate_document(RawDocument(path, slug, text), topic_index)
        errors += [
            ContentError(where or path, 0, 0, f"{p.message} (in the file it would write)", p.hint)
            for p in problems
        ]
        pending[slug] = text
        origin[slug], lines[slug] = where, c.line
        for _, key in _identity(c):
            existing.keys[key] = slug
        report.written.append(path)
    if pending and not errors:  # near duplicates and the rest of the cross-file checks
        for slug, problem in _catalogue_conflicts(root, pending, topics).items():
            if refuse_duplicates:
                errors.append(ContentError(origin[slug] or "new paper", 0, 0, problem.message, problem.hint))
            else:
                skipped.append((lines[slug], f"skipped {origin[slug]}: {problem.message}; review it by hand"))
                report.written.remove(f"content/papers/{slug}.md")
                del pending[slug]
    report.skipped = [text for _, text in sorted(skipped, key=lambda s: s[0])]
    if errors:
        raise BuildFailed(errors)
    if not dry_run:
        _write_all(papers_dir, pending)
    return report, pending


def _catalogue_conflicts(root: Path, pending: dict[str, str], topics) -> dict[str, ContentError]:
    """Validate the catalogue as it would be; return the cross-file problems of new files."""
    docs, _ = load_documents(root / "content" / "papers", root)
    new_paths = {f"content/papers/{slug}.md": slug for slug in pending}
    docs += [RawDocument(path, slug, pending[slug]) for path, slug in new_paths.items()]
    _, errors = validate(docs, topics)
    conflicts: dict[str, ContentError] = {}
    for error in errors:
        for path, slug in new_paths.items():
            if error.path == path:
                conflicts.setdefault(slug, error)
            elif path in error.message:  # the existing file was blamed: say it the other way round
                what = error.message.split(" as ", 1)[0]
                message = f"{what} as {error.path}: this paper seems to be in the catalogue already"
                conflicts.setdefault(slug, ContentError(path, 0, 0, message, error.hint))
    return conflicts


def source_label(path: Path, root: Path) -> str:
    """Where the raw text lives: relative to content/ or the project, else the file name."""
    resolved = path.resolve()
    for base in (root / "content", root):
        if resolved.is_relative_to(base.resolve()):
            return resolved.relative_to(base.resolve()).as_posix()
    return path.name


def _umask() -> int:
    mask = os.umask(0o022)  # read it: setting is the only way
    os.umask(mask)
    return mask


def write_new(target: Path, text: str, *, replace: bool = False) -> None:
    """Write a file through a fresh temporary name (never following a link), then link it in.

    Without `replace` an existing target is never overwritten; with it, only a regular file is.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".papercat-", dir=target.parent)  # O_EXCL: no link followed
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's file is private (0600); a paper file is not
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if replace:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)  # fails if the target exists, even as a dangling link
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _write_all(papers_dir: Path, files: dict[str, str]) -> None:
    """Write each new paper file; never replace an existing one."""
    for slug, text in files.items():
        write_new(papers_dir / f"{slug}.md", text)
