"""Read papers to add from a daily-papers listing or a BibTeX file, as Candidates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from pathlib import Path

import bibtexparser
from bibtexparser import middlewares
from pylatexenc import latex2text
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec

from . import config, importer, listing
from .errors import BuildFailed, ContentError, UsageError, plural, utf8_error
from .importer import Candidate, ImportReport
from .load import display_path
from .schema import ARXIV_RE, DOI_RE, PREPRINT_RE, SLUG_RE
from .validate import ORGANISATION_RE, TopicIndex, tag_hint, tag_slug

MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
ARXIV_IN_TEXT = re.compile(r"(?:arxiv[:/ ]\s*|arxiv\.org/(?:abs|pdf)/)(\d{4}\.\d{4,5})(v\d+)?", re.I)


def read_text(path: Path, label: str) -> str:
    """A source file's text; a missing file is a usage error, bad UTF-8 or no text a located one."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        raise UsageError(f"file not found: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a folder: give the listing or .bib file in it") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BuildFailed([utf8_error(label, data, exc)]) from None
    if not text.strip("\ufeff \t\r\n"):
        raise BuildFailed(
            [
                ContentError(
                    label, 1, 0, "the file is empty", "copy the page's text (or the .bib export) into it"
                )
            ]
        )
    return text


def listing_candidates(text: str, label: str) -> tuple[list[Candidate], list[str]]:
    """Candidates from a daily-papers listing, and a note of the page's text skipped;
    unparseable input raises BuildFailed."""
    parsed, errors = listing.parse_listing(text, label)
    if errors:
        raise BuildFailed(errors)
    notes = []
    if parsed.page_lines:
        where: dict[str, list[str]] = {}  # each text with the lines it stood on
        for line, text in parsed.page_lines:
            where.setdefault(text, []).append(str(line))
        shown = "; ".join(f"'{text}' ({', '.join(lines)})" for text, lines in where.items())
        notes.append(
            f"skipped {plural(len(parsed.page_lines), 'line')} of page text between papers, by line: {shown}"
        )
    return [Candidate(e.title, e.abstract, e.title_line) for e in parsed.entries], notes


def _name(parts, decode) -> str:
    """One author as a paper file writes it: "First von Last, Jr" decoded from LaTeX, or an
    organisation, braced whole in BibTeX ("{Allen Institute and University of Washington}"),
    in braces."""
    if not (parts.first or parts.von or parts.jr) and len(parts.last) == 1:
        whole = ORGANISATION_RE.fullmatch(parts.last[0])
        if whole and whole.group(1):
            return "{" + " ".join(decode(whole.group(1)).split()) + "}"
    words = list(parts.first) + list(parts.von) + list(parts.last)
    name = decode(" ".join(words))
    return name + (", " + decode(" ".join(parts.jr)) if parts.jr else "")


def _date(fields: dict) -> str | None:
    year = fields.get("year", "").strip()
    if not re.fullmatch(r"\d{4}", year):
        return None
    month = fields.get("month", "").strip().lower()[:3]
    numeric = int(month) if month.isascii() and month.isdigit() else 0
    number = MONTHS.get(month) or (numeric if 1 <= numeric <= 12 else None)
    return f"{year}-{number:02d}" if number else year


def _arxiv(fields: dict) -> str | None:
    eprint = fields.get("eprint", "").strip()
    prefix = (fields.get("archiveprefix", "") + fields.get("eprinttype", "")).lower()
    if eprint and ("arxiv" in prefix or ARXIV_RE.match(eprint)) and ARXIV_RE.match(eprint):
        return eprint
    for key in ("journal", "url", "note", "howpublished"):
        m = ARXIV_IN_TEXT.search(fields.get(key, ""))
        if m:
            return m.group(1) + (m.group(2) or "")
    volume = fields.get("volume", "").strip().removeprefix("abs/")  # DBLP: journal CoRR, volume abs/<id>
    if fields.get("journal", "").strip().lower() in ("corr", "arxiv") and ARXIV_RE.match(volume):
        return volume
    return None


_MATH_OR_BRACE = re.compile(r"(\$[^$]*\$)|[{}]")


def _plain(fields: dict, key: str) -> str:
    """A field's text without BibTeX's protecting braces (those of $…$ mathematics stay), its
    whitespace collapsed."""
    text = _MATH_OR_BRACE.sub(lambda m: m.group(1) or "", str(fields.get(key, "")))
    return " ".join(text.split())


def _latex_decoder() -> LatexNodes2Text:
    """bibtexparser's LaTeX decoding (mathematics kept as typed), knowing TeX's own names:
    its default drops `\\TeX` and `\\LaTeX`, words of a title."""
    context = latex2text.get_default_latex_context_db()
    names = {"TeX": "TeX", "LaTeX": "LaTeX", "LaTeXe": "LaTeX2e", "BibTeX": "BibTeX", "XeTeX": "XeTeX"}
    macros = [MacroTextSpec("url", simplify_repl="%s")]
    macros += [MacroTextSpec(name, text) for name, text in names.items()]
    context.add_context_category("papercat", prepend=True, macros=macros)
    return LatexNodes2Text(latex_context=context, keep_braced_groups=False, math_mode="verbatim")


VERBATIM_FIELDS = ("url", "doi", "eprint")  # read as written: LaTeX decoding would turn ~ and & into spaces
LEFT_OUT = (  # BibTeX fields a paper file has no place for: the report names them
    "volume", "number", "pages", "publisher", "institution", "school", "organization", "editor",
    "edition", "series", "chapter", "address", "isbn", "issn",
)  # fmt: skip


def _venue(kind: str, fields: dict) -> tuple[str | None, str | None]:
    """(journal, proceedings) of an entry: its booktitle for a paper in a book of proceedings
    (or any entry with one), else its journal; never a preprint server's name."""
    booktitle, journal = _plain(fields, "booktitle"), _plain(fields, "journal")
    if kind in ("inproceedings", "conference"):  # a series named as its journal (PMLR) too
        booktitle = booktitle or journal
    if booktitle and not PREPRINT_RE.search(booktitle):
        return None, booktitle
    if journal and not PREPRINT_RE.search(journal):
        return journal, None
    return None, None


_BARE_PERCENT = re.compile(r"(?<!\\)%")


def bibtex_candidates(text: str, label: str) -> tuple[list[Candidate], list[str]]:
    """Candidates from BibTeX (Zotero, Google Scholar); bad blocks raise BuildFailed with lines."""
    quiet = logging.getLogger("bibtexparser")
    decoder = _latex_decoder()
    level, quiet.level = quiet.level, logging.ERROR + 10  # we report failed blocks ourselves
    try:
        library = bibtexparser.parse_string(
            _BARE_PERCENT.sub(r"\\%", text),  # a value's "%" is text to BibTeX, a comment to LaTeX decoding
            append_middleware=[  # names are split before decoding, which would drop their braces
                middlewares.SeparateCoAuthors(),
                middlewares.LatexDecodingMiddleware(decoder=decoder),
                middlewares.SplitNameParts(),
            ],
        )
        written = {  # each entry's fields as written, for those that are not LaTeX
            (e.key, e.start_line): {f.key.lower(): str(f.value) for f in e.fields}
            for e in bibtexparser.parse_string(text).entries
        }
    finally:
        quiet.level = level
    errors = [
        ContentError(
            label,
            block.start_line + 1,
            1,
            f"cannot parse this BibTeX block ({type(block.error).__name__ if block.error else 'syntax'})",
            "check the braces and commas of this entry",
        )
        for block in library.failed_blocks
    ]
    candidates = []
    for entry in library.entries:
        fields = {
            k.lower(): (v if isinstance(v, list) else str(v))
            for k, v in ((f.key, f.value) for f in entry.fields)
        }
        raw = written.get((entry.key, entry.start_line), {})
        fields.update({k: raw[k] for k in VERBATIM_FIELDS if k in raw})
        line = entry.start_line + 1
        title = _plain(fields, "title")
        if not title:
            errors.append(ContentError(label, line, 1, f"entry '{entry.key}' has no title"))
            continue
        authors = (
            tuple(_name(a, decoder.latex_to_text) for a in fields.get("author", []))
            if isinstance(fields.get("author"), list)
            else ()
        )
        url = str(fields.get("url", "")).strip()
        doi = str(fields.get("doi", "") or (url if url.startswith("https://doi.org/") else "")).strip()
        doi = doi.removeprefix("https://doi.org/") or None  # DBLP gives the DOI as a url
        journal, proceedings = _venue(entry.entry_type.lower(), fields)
        url = "" if doi and url.startswith("https://doi.org/") else url
        # arXiv subject classes ("Computer Science - Machine Learning") are not tags
        keywords = [tag_slug(k) for k in re.split(r"[,;]", str(fields.get("keywords", ""))) if " - " not in k]
        candidates.append(
            Candidate(
                title=title,
                abstract=str(fields.get("abstract", "")),
                line=line,
                authors=authors,
                date=_date(fields),
                arxiv=_arxiv(fields),
                doi=doi if doi and DOI_RE.match(doi) else None,
                url=url if url.startswith("https://") and "arxiv.org" not in url else None,
                journal=journal,
                proceedings=proceedings,
                keywords=tuple(dict.fromkeys(k for k in keywords if k and SLUG_RE.match(k))),
                left_out=tuple(k for k in LEFT_OUT if str(fields.get(k, "")).strip()),
            )
        )
    if errors:
        raise BuildFailed(errors)
    return candidates, []


def import_file(
    root: Path,
    path: Path,
    *,
    added: str | None = None,
    dry_run: bool = False,
    today: dt.date | None = None,
    topics: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
) -> ImportReport:
    """`import`: a .bib file or a daily-papers listing; papers already present are skipped.

    A file from outside content/ is kept as content/listings/<name>, so every paper's
    `source:` points at raw text that stays in the repository. `topics` and `tags`, when
    given, are every new paper's, instead of the suggested ones.
    """
    added = importer.check_added(added, today)
    topics, tags = _given_terms(root, topics, tags)
    label = display_path(path, root)
    text = read_text(path, label)
    reader = bibtex_candidates if path.suffix.lower() == ".bib" else listing_candidates
    candidates, notes = reader(text, label)
    if topics or tags:
        candidates = [
            dataclasses.replace(c, topics=topics or c.topics, tags=tags or c.tags) for c in candidates
        ]
    keep = _kept_copy(root, path, text)
    report, _ = importer.add_papers(
        root,
        candidates,
        source=importer.source_label(keep or path, root),
        added=added,
        dry_run=dry_run,
        label=label,
        today=today,
    )
    report.notes[:0] = notes
    if keep and report.written and not dry_run:
        importer.write_new(keep, text, replace=True)
        report.kept = display_path(keep, root)
    return report


def _given_terms(root: Path, topics: tuple[str, ...], tags: tuple[str, ...]) -> tuple[tuple, tuple]:
    """--topic and --tag checked once for the whole file (a topic named by one of its keywords
    becomes its slug): every problem in one message, not once per paper."""
    problems = []
    if topics:
        taxonomy, errors = config.load_topics(root / "content" / "topics.yml", "content/topics.yml")
        if errors:
            raise BuildFailed(errors)
        index = TopicIndex.of(taxonomy)
        found = [index.topic_of(t) for t in topics]
        problems += [
            f"--topic '{t}' is no topic ({index.hint(t)})"
            for t, f in zip(topics, found, strict=True)
            if not f
        ]
        topics = tuple(dict.fromkeys(f for f in found if f))
    problems += [f"--tag '{t}': {tag_hint(t)}" for t in tags if not SLUG_RE.match(t)]
    if problems:
        raise UsageError("; ".join(problems))
    return topics, tuple(dict.fromkeys(tags))


def _kept_copy(root: Path, path: Path, text: str) -> Path | None:
    """Where to keep a copy of a source file from outside content/ (None: already inside)."""
    content = (root / "content").resolve()
    if path.resolve().is_relative_to(content):
        return None
    keep = root / "content" / "listings" / path.name
    if keep.is_symlink() or (keep.exists() and not keep.is_file()):
        raise UsageError(f"content/listings/{path.name} is not a regular file; remove it first")
    if keep.exists() and keep.read_bytes() != text.encode("utf-8"):
        raise UsageError(
            f"content/listings/{path.name} already exists with other content; "
            "rename the file you are importing"
        )
    return keep
