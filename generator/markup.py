"""Markdown abstracts -> sanitised HTML (named so it cannot shadow the `markdown` package)."""

from __future__ import annotations

import dataclasses
import html as html_lib
import re

import nh3

from .model import Paper

ALLOWED_TAGS = {
    "p",
    "a",
    "em",
    "strong",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "blockquote",
    "br",
    "sub",
    "sup",
    "hr",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}
# Text that Markdown leaves as it is, bar the paragraphs (see is_plain): no character that starts
# inline markup or is escaped, no tab, carriage return or control character...
MARKUP_CHARACTER = re.compile(r"[\\`*_\[\]!<>&#=\x00-\x09\x0b-\x1f\x7f]")
# ...and every line empty, or starting with a letter, ( " or ' (no list, quote, heading, rule or
# code block) and not ending in whitespace (a line break).
PLAIN_LINE_START = re.compile(r"[A-Za-z(\"']")
PARAGRAPH_BREAK = re.compile(r"\n{2,}")


class Converter:
    """A plain Markdown converter: no extensions that accept attributes or raw-HTML blocks.

    Markdown is imported when an abstract first needs it: most are plain text (see is_plain),
    and a rebuild after an edit often converts none (importing it takes about 15 ms)."""

    def __init__(self) -> None:
        self._markdown = None

    def convert(self, text: str) -> str:
        """One document, with nothing left over from the last (the converter is reset)."""
        if self._markdown is None:
            import markdown

            self._markdown = markdown.Markdown(extensions=[], output_format="html")
        self._markdown.reset()
        return self._markdown.convert(text)


def make_converter() -> Converter:
    return Converter()


def sanitise(html: str) -> str:
    """Allowlist sanitising (nh3/ammonia): only text formatting and safe links survive."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
    )


def is_plain(text: str) -> bool:
    """Whether Markdown would leave `text` (no leading or trailing newline) as it is, bar its
    paragraphs. Most abstracts are such text."""
    if not text or MARKUP_CHARACTER.search(text):
        return False
    return all(
        not line or (PLAIN_LINE_START.match(line) and not line[-1].isspace()) for line in text.split("\n")
    )


def render_markdown(converter: Converter, text: str) -> str:
    """Convert one document (sanitised)."""
    plain = text.strip("\n")
    if is_plain(plain):  # Markdown's own output, five times sooner
        return sanitise("\n".join(f"<p>{block}</p>" for block in PARAGRAPH_BREAK.split(plain)))
    return sanitise(converter.convert(text))


def render_papers(papers, converter: Converter) -> list[Paper]:
    """Fill in body_html for every paper."""
    return [dataclasses.replace(p, body_html=render_markdown(converter, p.body_md)) for p in papers]


def plain_text(html: str) -> str:
    """Visible text of sanitised HTML: tags dropped, entities decoded, spaces folded."""
    return " ".join(html_lib.unescape(nh3.clean(html, tags=set())).split())
