"""Turn raw documents into validated Papers, collecting every located error."""

from __future__ import annotations

import datetime as dt
import difflib
import html
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from slugify import slugify

from . import frontmatter as fm
from .cache import ALWAYS, Cache
from .duplicates import check_duplicates, check_tag_collisions, identity_digest, name_greek_letters
from .errors import ContentError
from .frontmatter import FieldError, FrontMatterError
from .load import RawDocument
from .model import Paper, Topic
from .schema import (
    ARXIV_RE,
    DATE_RE,
    DOI_RE,
    FIELD_NAMES,
    FIELDS,
    FULL_DATE_RE,
    PREPRINT_RE,
    SLUG_MAX,
    SLUG_RE,
)

REQUIRED = tuple(f.name for f in FIELDS if f.required)
KIND = {f.name: f.kind for f in FIELDS}
MAX_LIST_ERRORS = 10
# Limits checked before Markdown sees the text: real abstracts are far below them, and
# Python-Markdown is quadratic on runs of "[" and recursive on nested lists.
MAX_ABSTRACT_CHARS = 10_000
MAX_BRACKETS = 200
MAX_NESTING = 8
NESTING_RE = re.compile(r"^(?:[ \t]*(?:[-*+>]|\d{1,9}[.)])(?=[ \t]|$)[ \t]*)+")
# `<` opening a tag, comment or declaration; an autolink (`<scheme:no-spaces>`) is not one.
RAW_HTML_RE = re.compile(r"<(?![A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*>)[A-Za-z!/?]")
LINK_RES = (
    re.compile(r"(?<!\\)(?:\\\\)*\]\(\s*<?([^)\s>]*)"),  # [text](dest); not \](, a bracket as typed
    re.compile(
        r"^(?:\s*(?:[>*+-]|\d{1,9}[.)])\s*)*\[[^\]]+\]:\s*<?([^\s>]+)"
    ),  # [ref]: dest, also in lists and quotes
    re.compile(r"<([A-Za-z][A-Za-z0-9+.\-]{1,31}:[^<>\s]*)>"),  # <scheme:…>
)
IMAGE_RE = re.compile(r"!\[")
RAW_HTML_HINT = "write plain text or Markdown; to show a '<' literally, write &lt;"
IMAGE_HINT = "link to the figure instead: [figure](https://…)"
LINK_SCHEMES = ("http", "https", "mailto")
BACKTICKS_RE = re.compile(r"`+")
# Control characters, and the invisible bidi / zero-width ones that can disguise text.
INVISIBLE_RE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0"
    "\ufff9-\ufffb\U000e0000-\U000e0fff]"
)


@dataclass(frozen=True, slots=True)
class TopicIndex:
    """Topic slugs, plus each topic's keywords as aliases for 'did you mean' hints."""

    slugs: frozenset[str]
    aliases: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, topics) -> TopicIndex:
        """Index the taxonomy: 'peft' and 'lora' both point at their topic's slug."""
        aliases = {}
        for t in topics:
            for keyword in t.keywords:
                for alt in keyword.split("|"):
                    aliases.setdefault(slugify(alt), t.slug)
        return cls(frozenset(t.slug for t in topics), tuple(sorted(aliases.items())))

    def topic_of(self, keyword: str) -> str | None:
        """The topic a keyword slug names: its slug, or one of its keywords ('peft')."""
        return keyword if keyword in self.slugs else dict(self.aliases).get(keyword)

    def hint(self, value: str) -> str:
        """'did you mean …?' from spelling or from a keyword, else the list of topics."""
        alias = dict(self.aliases).get(slugify(value))
        close = difflib.get_close_matches(value, sorted(self.slugs), n=1, cutoff=0.6)
        if alias or close:
            return f"did you mean '{alias or close[0]}'?"
        return "topics in content/topics.yml: " + ", ".join(sorted(self.slugs))


def validate(docs: list[RawDocument], topics: tuple[Topic, ...]):
    """Validate all documents; return (papers, errors). Cross-file checks run last."""
    topic_index = TopicIndex.of(topics)
    papers: list[Paper] = []
    errors: list[ContentError] = []
    for doc in docs:
        paper, errs = validate_document(doc, topic_index)
        errors.extend(errs)
        if paper is not None:
            papers.append(paper)
    return papers, errors + cross_file_errors(papers)


def cross_file_errors(papers: list[Paper], cache: Cache | None = None) -> list[ContentError]:
    """Duplicates and tag collisions (the title and id checks remembered by `cache`)."""
    cache = cache or Cache.disabled()
    duplicates = cache.memo(
        "duplicates", identity_digest(papers), lambda: check_duplicates(papers), ALWAYS, kind=list
    )
    return duplicates + check_tag_collisions(papers)


def validate_document(doc: RawDocument, topics: TopicIndex):
    """Validate one file; return (Paper or None, errors)."""
    errors: list[ContentError] = []
    if not SLUG_RE.match(doc.stem) or len(doc.stem) > SLUG_MAX:
        errors.append(
            ContentError(
                doc.path,
                0,
                0,
                f"file name '{doc.stem}.md' is not a valid slug",
                f"rename it to '{title_slug(doc.stem) or 'paper'}.md'"
                " (lowercase letters and digits joined by single hyphens, at most 80 characters)",
            )
        )
    try:
        parsed = fm.parse(doc.text, doc.path)
    except FrontMatterError as exc:
        return None, errors + exc.errors
    errors += parsed.errors  # the other fields are still checked
    values: dict = {}
    for key, (kpos, vpos) in parsed.fields.items():
        if key not in FIELD_NAMES:
            close = difflib.get_close_matches(key, FIELD_NAMES, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else "allowed fields: " + ", ".join(FIELD_NAMES)
            errors.append(ContentError(doc.path, kpos.line, kpos.col, f"unknown field '{key}'", hint))
            continue
        try:
            value = _convert(key, vpos.node, topics)
        except FieldErrors as exc:
            for problem in exc.problems:
                line, col = fm.position(problem.node, 1)
                errors.append(ContentError(doc.path, line, col, problem.message, problem.hint))
            continue
        except FieldError as exc:
            line, col = fm.position(exc.node, 1)
            errors.append(ContentError(doc.path, line, col, exc.message, exc.hint))
            continue
        if value is not None:
            values[key] = value
    for key in REQUIRED:
        if key not in parsed.fields:
            errors.append(
                ContentError(doc.path, 1, 1, f"missing required field '{key}'", _required_hint(key))
            )
    if "topics" in values and not values["topics"]:
        _, vpos = parsed.fields["topics"]
        errors.append(
            ContentError(
                doc.path,
                vpos.line,
                vpos.col,
                "a paper needs at least one topic",
                "pick from content/topics.yml",
            )
        )
    if values.get("journal") and values.get("proceedings"):
        _, vpos = parsed.fields["proceedings"]
        errors.append(
            ContentError(
                doc.path,
                vpos.line,
                vpos.col,
                "a paper has 'journal' or 'proceedings', not both",
                "keep the one it was published in",
            )
        )
    braced = [ORGANISATION_RE.fullmatch(a) for a in values.get("authors", ())]  # organisations
    if any(m and not m.group(1) for m in braced):
        _, vpos = parsed.fields["authors"]
        errors.append(
            ContentError(
                doc.path,
                vpos.line,
                vpos.col,
                "empty item in 'authors'",
                "write the organisation's name between the braces, or remove the entry",
            )
        )
    errors += _body_problems(doc.path, parsed)
    if errors:
        return None, errors
    authors = values.pop("authors", ())
    return Paper(
        slug=doc.stem,
        body_md=parsed.body.strip("\n") + "\n",
        path=doc.path,
        authors=tuple(m.group(1) if m else a for a, m in zip(authors, braced, strict=True)),
        organisations=tuple(m.group(1) for m in braced if m),
        tags=values.pop("tags", ()),
        positions=_positions(parsed),
        **values,
    ), []


# An author in braces, as BibTeX writes an organisation: group 1 is its name, as shown.
ORGANISATION_RE = re.compile(r"\{\s*([^{}]*?)\s*\}")


def _positions(parsed: fm.FrontMatter) -> str:
    """Where each field's value, each tag and the body start, for later cross-file messages
    (as Paper.positions keeps them)."""
    out = [(key, vpos.line, vpos.col) for key, (_, vpos) in parsed.fields.items()]
    if "tags" in parsed.fields:
        node = parsed.fields["tags"][1].node
        if isinstance(node, fm.yaml.SequenceNode):
            out += [(f"tags:{item.value}", *fm.position(item, 1)) for item in node.value]
    skipped = len(parsed.body) - len(parsed.body.lstrip("\n"))
    out.append(("body", parsed.body_line + parsed.body[:skipped].count("\n"), 1))
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def mask_code_spans(text: str) -> str:
    """Blank out `code spans` (a run of backticks up to the next run of the same length),
    in one pass: a regex with a lazy body was cubic on long runs of backticks."""
    if "`" not in text:  # most abstracts
        return text
    chars = list(text)
    runs = [(m.start(), m.end()) for m in BACKTICKS_RE.finditer(text)]
    following: dict[int, list[int]] = {}
    for i, (start, end) in enumerate(runs):
        following.setdefault(end - start, []).append(i)
    nxt = {}
    for same in following.values():
        for a, b in zip(same, same[1:], strict=False):
            nxt[a] = b
    i = 0
    while i < len(runs):
        if i in nxt:
            j = nxt[i]
            for k in range(runs[i][0], runs[j][1]):
                chars[k] = " "
            i = j + 1
        else:
            i += 1
    return "".join(chars)


def _body_limits(path: str, parsed: fm.FrontMatter) -> list[ContentError]:
    """Size, bracket and nesting limits, so no abstract can hang or crash the build."""
    body = parsed.body.lstrip("\n")
    first = parsed.body_line + len(parsed.body) - len(body)
    if len(body) > MAX_ABSTRACT_CHARS:
        return [
            ContentError(
                path,
                first,
                1,
                f"abstract is {len(body):,} characters; the limit is {MAX_ABSTRACT_CHARS:,}",
                "an abstract is a paragraph or two",
            )
        ]
    if body.count("[") > MAX_BRACKETS:
        at = [i for i, c in enumerate(body) if c == "["][MAX_BRACKETS]
        line = first + body.count("\n", 0, at)
        col = at - body.rfind("\n", 0, at)
        return [
            ContentError(
                path,
                line,
                col,
                f"abstract has {body.count('['):,} '[' characters; the limit is {MAX_BRACKETS}",
                "write plain text",
            )
        ]
    for number, line in enumerate(body.split("\n"), start=first):
        m = NESTING_RE.match(line)
        if m:
            indent = len(m.group(0)) - len(m.group(0).lstrip())
            depth = len(re.findall(r"[-*+>]|\d+[.)]", m.group(0))) + indent // 4
            if depth > MAX_NESTING:
                return [
                    ContentError(
                        path,
                        number,
                        1,
                        f"lists or quotes nested {depth} deep; the limit is {MAX_NESTING}",
                        "an abstract needs little structure",
                    )
                ]
    return []


def _body_problems(path: str, parsed: fm.FrontMatter) -> list[ContentError]:
    """Limits first; then raw HTML, never needed, rejected where it stands (code spans aside)."""
    limits = _body_limits(path, parsed)
    if limits:
        return limits
    if not any(char in parsed.body for char in "<[]"):  # what each problem below starts with
        return []
    body = mask_code_spans(parsed.body)
    errors = []
    for number, line in enumerate(body.split("\n"), start=parsed.body_line):
        tags = [m.start() + 1 for m in RAW_HTML_RE.finditer(line)]
        if tags:  # one error per line: "<b>x</b>" is one mistake, not two
            more = f" ({len(tags)} tags on this line)" if len(tags) > 1 else ""
            errors.append(
                ContentError(
                    path, number, tags[0], "raw HTML is not allowed in an abstract" + more, RAW_HTML_HINT
                )
            )
        errors += [
            ContentError(path, number, m.start() + 1, "images are not allowed in an abstract", IMAGE_HINT)
            for m in IMAGE_RE.finditer(line)
        ]
        for pattern in LINK_RES:
            for m in pattern.finditer(line):
                problem = link_problem(m.group(1))
                if problem:
                    errors.append(
                        ContentError(
                            path,
                            number,
                            m.start(1) + 1,
                            problem,
                            "links must be absolute https://, http:// or mailto: URLs",
                        )
                    )
    return errors[:MAX_LIST_ERRORS]


def link_problem(dest: str) -> str:
    """Why a link destination is refused ('' if fine): judged as a browser would read it."""
    seen = re.sub(r"[\x00-\x20\x7f]", "", html.unescape(dest)).lower()
    scheme = re.match(r"([a-z][a-z0-9+.\-]*):", seen)
    if not scheme:
        return f"link '{dest}' is not an absolute URL"
    if scheme.group(1) not in LINK_SCHEMES:
        return f"link scheme '{scheme.group(1)}:' is not allowed"
    return ""


def _required_hint(key: str) -> str:
    field = next(f for f in FIELDS if f.name == key)
    return f"add it, e.g. {key}: {field.example}"


class FieldErrors(Exception):
    """Several bad items of one list field, each reported at its own position."""

    def __init__(self, problems: list[FieldError]):
        self.problems = problems
        super().__init__(problems[0].message)


def _convert(key: str, node, topics: TopicIndex):
    """Convert one field's node to its model value, or raise FieldError(s) at the bad node(s)."""
    kind = KIND[key]
    if kind == "list":
        return _convert_list(key, node, topics)
    if isinstance(node, fm.yaml.ScalarNode) and node.tag == fm.NULL and key not in REQUIRED:
        return None
    value = fm.text(node, key).strip()
    _check_visible(node, value, key)
    if key == "title":
        if not value:
            raise FieldError(node, "'title' is empty")
        return value
    if key in ("journal", "proceedings"):
        if not value:
            raise FieldError(node, f"'{key}' is empty", f"give its name, or leave {key} out")
        if PREPRINT_RE.search(value):
            raise FieldError(
                node,
                f"'{value}' is a preprint server, not where the paper was published",
                f"leave {key} out: the arxiv field (or url) gives the preprint",
            )
        return " ".join(value.split())
    if kind == "date":
        return _full_date(node, value, key)
    if kind == "partial-date":
        if not DATE_RE.match(value):
            raise FieldError(node, f"'{key}' must be YYYY-MM-DD, YYYY-MM or YYYY, not '{value}'")
        try:
            dt.date.fromisoformat((value + "-01-01")[:10])
        except ValueError:
            raise FieldError(
                node, f"'{value}' is not a real calendar date", "check the month and day"
            ) from None
        return value
    if kind == "arxiv":
        bare = re.sub(r"^(arxiv:|https?://arxiv\.org/(abs|pdf)/)", "", value, flags=re.I)
        if bare != value and ARXIV_RE.match(bare):
            raise FieldError(
                node, f"'{value}' is not an arXiv identifier", f'drop the prefix: arxiv: "{bare}"'
            )
        if not ARXIV_RE.match(value) or not _arxiv_digits_ok(value):
            raise FieldError(
                node,
                f"'{value}' is not an arXiv identifier",
                'since 2015 ids are YYMM.NNNNN (e.g. "2310.06770"), before that YYMM.NNNN',
            )
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


def _arxiv_digits_ok(value: str) -> bool:
    """New-style ids: a real month, and 4 digits after the dot before 2015, 5 from 1501 on."""
    m = re.match(r"^(\d{2})(\d{2})\.(\d+)", value)
    if not m:
        return True  # old-style archive/number ids
    month_ok = 1 <= int(m.group(2)) <= 12
    return month_ok and len(m.group(3)) == (5 if m.group(1) + m.group(2) >= "1501" else 4)


def _full_date(node, value: str, key: str) -> dt.date:
    if not FULL_DATE_RE.match(value):
        raise FieldError(node, f"'{key}' must be a quoted date YYYY-MM-DD, not '{value}'")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FieldError(node, f"'{value}' is not a real calendar date", "check the month and day") from None


def _check_visible(node, value: str, key: str) -> None:
    """Reject control, zero-width and bidi-override characters, naming where they are."""
    found = [
        ("a line break" if m.group(0) == "\n" else f"the invisible character U+{ord(m.group(0)):04X}")
        + f" at character {m.start() + 1}"
        for m in INVISIBLE_RE.finditer(value)
    ]
    if found:
        listed = ", ".join(found[:-1]) + " and " + found[-1] if len(found) > 1 else found[0]
        raise FieldError(node, f"'{key}' contains {listed}", "retype the value as one line of plain text")


_NOT_LATIN = re.compile(r"[^\W\d_a-zA-Z\u00c0-\u024f]")  # a letter of another script than Latin


def tag_hint(value: str) -> str:
    """How to write a tag as a slug: its words in lowercase Latin letters and digits."""
    if _NOT_LATIN.search(value):
        return "tags are lowercase Latin letters, digits and hyphens: name it in English (e.g. 'japanese')"
    return f"write it as '{tag_slug(value) or 'tag'}' (lowercase words joined by hyphens)"


def title_slug(text: str, room: int = SLUG_MAX) -> str:
    """A slug of at most `room` characters, its words in order, cut after the last whole word
    that fits. (python-slugify's word_boundary skips a word that does not fit and takes later
    ones that do: "…-smaller-and-inference" for "…, Smaller and Inexpensive Inference".)
    A Greek letter on its own is named ("π-Tuning": pi-tuning, not p-tuning, another paper's
    name); Greek words are transliterated."""
    return cut_slug(slugify(name_greek_letters(text)), room)


def cut_slug(slug: str, room: int) -> str:
    """`slug` cut to `room` characters after a whole word (mid-word only if its first word is longer)."""
    if len(slug) <= room:
        return slug
    cut = slug[: room + 1].rsplit("-", 1)[0]
    return cut if len(cut) <= room else slug[:room]


def tag_slug(text: str) -> str:
    """A tag for a keyword as written: 'Low Rank' -> 'low-rank', 'C++' -> 'c-plus-plus'."""
    return slugify(text, replacements=[["+", " plus "], ["#", " sharp "]])


def _list_items(key: str, node) -> tuple[list, list[FieldError]]:
    """(string items with their nodes, problems with non-string items)."""
    if not isinstance(node, fm.yaml.SequenceNode):
        return fm.text_list(node, key), []  # null -> [], anything else raises at the node
    items, problems = [], []
    for item in node.value:
        try:
            items.append((fm.text(item, f"{key} item"), item))
        except FieldError as bad:
            hint = f'quote it: {key}: ["{item.value}"]' if isinstance(item, fm.yaml.ScalarNode) else ""
            problems.append(FieldError(bad.node, bad.message, hint))
    return items, problems


def _convert_list(key: str, node, topics: TopicIndex) -> tuple[str, ...]:
    """Every item is checked; all bad items are reported together."""
    items, problems = _list_items(key, node)
    listed = {value.strip() for value, _ in items}
    out: list[str] = []
    for value, item in items:
        value = value.strip()
        try:
            if not value:
                raise FieldError(item, f"empty item in '{key}'")
            _check_visible(item, value, f"{key} item")
            if key == "topics" and value not in topics.slugs:
                hint = topics.hint(value)
                if any(f"'{t}'" in hint for t in listed):
                    hint = "it is already covered by a topic in this list: remove it"
                raise FieldError(item, f"unknown topic '{value}'", hint)
            if key == "tags" and not SLUG_RE.match(value):
                raise FieldError(item, f"tag '{value}' is not a slug", tag_hint(value))
            if value in out:
                raise FieldError(item, f"'{value}' is listed twice in '{key}'", "remove one of them")
        except FieldError as bad:
            problems.append(bad)
            continue
        out.append(value)
    if problems:
        raise FieldErrors(problems[:MAX_LIST_ERRORS])
    return tuple(out)
