"""Split a content file into YAML front matter and body, and parse the YAML strictly.

The YAML is composed into nodes (never constructed into Python objects by PyYAML),
so every value keeps its line and column, and nothing is coerced behind our back:
`title: 1984` stays an int-tagged node that validation rejects with its location.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from .errors import ContentError

try:  # the C composer is several times faster; the pure one gives the same nodes
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - libyaml missing
    from yaml import SafeLoader as _Loader

STR = "tag:yaml.org,2002:str"
NULL = "tag:yaml.org,2002:null"
STANDARD_TAGS = {
    STR,
    NULL,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:map",
}


@dataclass(frozen=True, slots=True)
class Value:
    """A YAML node with its 1-based position in the whole file."""

    node: yaml.Node
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """The parsed mapping (key -> (key position, value)), the body and where it starts."""

    fields: dict[str, tuple[Value, Value]]
    body: str
    body_line: int
    errors: tuple[ContentError, ...] = ()  # fields given twice, names that are not words: not read


class FrontMatterError(Exception):
    """The front matter could not be parsed; carries the located errors."""

    def __init__(self, errors: list[ContentError]):
        self.errors = errors
        super().__init__(errors[0].message if errors else "front matter error")


def normalise_text(text: str) -> str:
    """Drop a leading BOM and turn CRLF / CR line ends into LF."""
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def split(text: str, path: str) -> tuple[str, str, int]:
    """Return (yaml text, body, 1-based line of the body's first line)."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        raise FrontMatterError(
            [
                ContentError(
                    path,
                    1,
                    1,
                    "file does not start with a '---' front-matter line",
                    "a paper file starts with '---', then YAML fields, then '---', then the abstract",
                )
            ]
        )
    for i in range(1, len(lines)):
        if lines[i].rstrip() == "---":
            return "\n".join(lines[1:i]) + "\n", "\n".join(lines[i + 1 :]), i + 2
    raise FrontMatterError(
        [
            ContentError(
                path, 1, 1, "front matter is never closed", "add a line with just '---' after the last field"
            )
        ]
    )


def position(node: yaml.Node, offset: int = 0) -> tuple[int, int]:
    """1-based (line, column) of a node (or event), shifted by the front matter's offset."""
    return node.start_mark.line + 1 + offset, node.start_mark.column + 1


_QUOTED_VALUE = re.compile(r"""^\s*(?:-\s+)?(?:[\w-]+:\s+)?(["'])""")


_NEXT_ITEM = re.compile(r"^(\s*)(?:-\s|[\w-]+:(?:\s|$))")


def _misquoted(yaml_text: str, last: int) -> tuple[tuple[int, int], str, str] | None:
    """((line, column), quote, what) of the first quoted value, on lines 0 to `last`, that
    YAML cannot have read as meant: one whose quote does not close on its line although the
    next line starts another key or item, or none follows ("open": YAML reads on, which is
    how a missing quote shows), or one whose quote closes before text that goes on ("early":
    a quote inside the value). None if there is none (a value that goes on over indented
    lines is valid)."""
    lines = yaml_text.split("\n")
    for number, line in enumerate(lines[: last + 1]):
        m = _QUOTED_VALUE.match(line)
        if not m:
            continue
        quote, rest = m.group(1), line[m.end() :]
        body = re.sub(r"\\.", "__", rest) if quote == '"' else rest.replace("''", "__")
        at = body.find(quote)
        if at >= 0:
            after_quote = body[at + 1 :].strip()
            if after_quote and not after_quote.startswith("#"):
                return (number, m.start(1) + at + 1), quote, "early"
            continue
        following = [n for n in lines[number + 1 :] if n.strip()]
        after = _NEXT_ITEM.match(following[0]) if following else None
        indent = len(line) - len(line.lstrip())
        if not following or after and len(after.group(1)) <= indent:
            return (number, m.start(1)), quote, "open"
    return None


def compose(yaml_text: str, path: str, offset: int = 0) -> yaml.Node | None:
    """Compose YAML into a node tree, rejecting aliases, custom tags and extra documents."""
    try:
        root = yaml.compose(yaml_text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1 + offset, mark.column + 1) if mark else (offset + 1, 0)
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.context_mark and exc.problem:
            problem += f" ({exc.context} that starts on line {exc.context_mark.line + 1 + offset})"
        hint = "check indentation and quoting; quote values that contain ': ' or start with a symbol"
        if "expected a single document" in str(exc):
            problem, hint = "only one YAML document is allowed", "remove the extra '---' line"
        elif mark and yaml_text[mark.index : mark.index + 1] == "\t":
            problem, hint = "a tab character: YAML indents with spaces", "replace the tab with spaces"
        elif mark and (found := _misquoted(yaml_text, mark.line)):
            (at, column), quote, what = found
            line, col = at + 1 + offset, column + 1
            kind, escape = ("double", '\\"') if quote == '"' else ("single", "''")
            if what == "open":
                problem = f"this {kind} quote is not closed on its line"
                hint = f"end the value with {quote}, and write a {quote} inside it as {escape}"
            else:
                problem = f"the value's {kind} quote closes here, before the value's end"
                hint = f"write a {quote} inside a value quoted with {quote} as {escape}"
        raise FrontMatterError([ContentError(path, line, col, f"invalid YAML: {problem}", hint)]) from None
    except yaml.YAMLError as exc:
        raise FrontMatterError([ContentError(path, offset + 1, 0, f"invalid YAML: {exc}")]) from None
    if root is not None:
        errors = _anchors(yaml_text, path, offset)
        _check_nodes(root, path, offset, set(), errors)
        if errors:
            raise FrontMatterError(errors)
    return root


def mapping(root: yaml.Node | None, path: str, offset: int = 0) -> dict[str, tuple[Value, Value]]:
    """A mapping node as key -> (key, value); duplicate keys are errors."""
    fields, errors = read_mapping(root, path, offset)
    if errors:
        raise FrontMatterError(errors)
    return fields


def read_mapping(
    root: yaml.Node | None, path: str, offset: int = 0
) -> tuple[dict[str, tuple[Value, Value]], list[ContentError]]:
    """A mapping node's fields, and errors for the keys left out: a duplicate (the first is
    kept) or a key that is not a plain word. Raises if the node is not a mapping."""
    if root is None:
        return {}, []
    if not isinstance(root, yaml.MappingNode):
        line, col = position(root, offset)
        raise FrontMatterError(
            [
                ContentError(
                    path,
                    line,
                    col,
                    "expected a mapping of 'key: value' lines",
                    'the front matter is lines such as `title: "..."`, one field each, not a list '
                    "or a single value (see CONTRIBUTING.md)",
                )
            ]
        )
    errors: list[ContentError] = []
    fields: dict[str, tuple[Value, Value]] = {}
    for key_node, value_node in root.value:
        kline, kcol = position(key_node, offset)
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if not isinstance(key, str) or key_node.tag != STR:
            errors.append(ContentError(path, kline, kcol, "field names must be plain words"))
            continue
        if key in fields:
            first = fields[key][0].line
            errors.append(
                ContentError(
                    path,
                    kline,
                    kcol,
                    f"duplicate field '{key}' (first given on line {first})",
                    "keep one of them",
                )
            )
            continue
        vline, vcol = position(value_node, offset)
        fields[key] = (Value(key_node, kline, kcol), Value(value_node, vline, vcol))
    return fields, errors


def _anchors(yaml_text: str, path: str, offset: int) -> list[ContentError]:
    """Anchors (&a) and aliases (*a), located where they are written."""
    if "&" not in yaml_text and "*" not in yaml_text:
        return []
    errors = []
    for event in yaml.parse(yaml_text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            kind = "alias" if isinstance(event, yaml.AliasEvent) else "anchor"
            line, col = position(event, offset)
            errors.append(
                ContentError(
                    path,
                    line,
                    col,
                    f"YAML {kind} '{event.anchor}': anchors and aliases are not allowed",
                    "write the value out in full",
                )
            )
    return errors


def _check_nodes(node: yaml.Node, path: str, offset: int, seen: set[int], errors: list) -> None:
    """Reject aliases (a node reached twice) and non-standard tags anywhere in the tree."""
    if id(node) in seen:  # reached twice: an alias, already reported by _anchors
        return
    seen.add(id(node))
    if node.tag not in STANDARD_TAGS:
        line, col = position(node, offset)
        errors.append(
            ContentError(
                path,
                line,
                col,
                f"custom YAML tag '{node.tag}' is not allowed",
                "remove the '!' tag; values are plain strings and lists",
            )
        )
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            _check_nodes(child, path, offset, seen, errors)
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            _check_nodes(k, path, offset, seen, errors)
            _check_nodes(v, path, offset, seen, errors)


MAX_FRONT_MATTER = 16_384  # characters; a paper's fields need a few hundred
MAX_DEPTH = 4  # brackets or indentation levels; a paper's fields need two
BRACKETS = re.compile(r"[][{}]")


def check_limits(yaml_text: str, path: str, offset: int) -> None:
    """Refuse oversized or deeply nested YAML before the parser sees it."""
    if len(yaml_text) > MAX_FRONT_MATTER:
        raise FrontMatterError(
            [
                ContentError(
                    path,
                    offset + 1,
                    1,
                    f"front matter is {len(yaml_text):,} characters; the limit is {MAX_FRONT_MATTER:,}",
                    "a paper needs a few short fields",
                )
            ]
        )
    for number, line in enumerate(yaml_text.split("\n"), start=offset + 1):
        depth, deepest = 0, 0
        for char in BRACKETS.findall(line):  # most lines have none, a list line two
            depth += 1 if char in "[{" else -1
            deepest = max(deepest, depth)
        indent = (len(line) - len(line.lstrip(" "))) // 2
        if deepest > MAX_DEPTH or indent > MAX_DEPTH * 2:
            raise FrontMatterError(
                [
                    ContentError(
                        path,
                        number,
                        1,
                        "front matter is nested too deeply",
                        "fields are plain values or lists of strings",
                    )
                ]
            )


def parse(text: str, path: str) -> FrontMatter:
    """Parse a whole content file; raises FrontMatterError with located errors."""
    yaml_text, body, body_line = split(normalise_text(text), path)
    check_limits(yaml_text, path, 1)
    fields, errors = read_mapping(compose(yaml_text, path, 1), path, 1)
    return FrontMatter(fields, body, body_line, tuple(errors))


KIND_NAMES = {
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a yes/no value",
    "tag:yaml.org,2002:timestamp": "a date",
    NULL: "an empty value",
    "tag:yaml.org,2002:seq": "a list",
    "tag:yaml.org,2002:map": "a mapping",
}


class FieldError(Exception):
    """A value of the wrong YAML type; `node` locates it."""

    def __init__(self, node: yaml.Node, message: str, hint: str = ""):
        self.node, self.message, self.hint = node, message, hint
        super().__init__(message)


def text(node: yaml.Node, name: str) -> str:
    """A string scalar, or FieldError: no silent coercion of numbers, dates or booleans."""
    if isinstance(node, yaml.ScalarNode) and node.tag == STR:
        return node.value
    found = KIND_NAMES.get(node.tag, "not a string")
    hint = (
        f'put the value in double quotes: {name}: "{node.value}"'
        if isinstance(node, yaml.ScalarNode) and node.tag != NULL
        else f"give '{name}' a quoted string"
    )
    raise FieldError(node, f"'{name}' must be a string, but YAML reads {found} here", hint)


def text_list(node: yaml.Node, name: str) -> list[tuple[str, yaml.Node]]:
    """A list of strings with each item's node; a null counts as an empty list."""
    if isinstance(node, yaml.ScalarNode) and node.tag == NULL:
        return []
    if not isinstance(node, yaml.SequenceNode):
        found = KIND_NAMES.get(node.tag, "a single value")
        if node.tag == STR:
            found = "a single string"
        raise FieldError(
            node,
            f"'{name}' must be a list, but YAML reads {found} here",
            f'write it as a list: {name}: ["…", "…"]',
        )
    return [(text(item, f"{name} item"), item) for item in node.value]
