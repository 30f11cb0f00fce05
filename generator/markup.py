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
# Text that Markdown turns into paragraphs and little else (see simple_html): no character that
# starts inline markup or is escaped (nor "#": the html.parser that Markdown's HTML-block step
# runs over the text first reads &#3x as &#3;x), no tab, carriage return or control character,
# and no "<" but that of an autolink...
MARKUP_CHARACTER = re.compile(r"[\\`*_\[\]!<#\x00-\x09\x0b-\x1f\x7f]")
# ...(Markdown's pattern, narrowed: no whitespace, and none of the characters of the inline
# patterns that Markdown tries before autolinks, backticks, escapes and links; and no "&#",
# which that html.parser may rewrite in an address it reads as an unclosed tag, as in
# <https://a.b/?q="&#3x>)...
AUTOLINK = re.compile(r"<(https?://[^<>\s`\\\[\]\x00-\x1f\x7f]+)>")
# ...and every line empty, or starting with a letter, ( " or ' (no list, quote, heading, rule or
# code block) and not ending in whitespace (a line break).
PLAIN_LINE_START = re.compile(r"[A-Za-z(\"']")
PARAGRAPH_BREAK = re.compile(r"\n{2,}")
# An "&" that starts no entity, which Markdown's serialiser escapes (its RE_AMP); entities are
# kept as written (simple text has no numeric ones).
BARE_AMPERSAND = re.compile(r"&(?!(?:\#[0-9]+|\#x[0-9a-f]+|[0-9a-z]+);)", re.I)


class Converter:
    """A plain Markdown converter: no extensions that accept attributes or raw-HTML blocks.

    Markdown is imported when an abstract first needs it: most are simple text (see simple_html),
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


def _markdown_escaped(text: str) -> str:
    """Text as Markdown's serialiser escapes it (no "<" left in it here)."""
    if "&" in text:
        text = BARE_AMPERSAND.sub("&amp;", text)
    return text.replace(">", "&gt;")


def _autolink(address: str) -> str:
    """A link as Markdown writes an autolink: the address, escaped as an attribute and as text."""
    text = _markdown_escaped(address)
    return f'<a href="{text.replace(chr(34), "&quot;")}">{text}</a>'


def simple_html(text: str) -> str | None:
    """Markdown's HTML of `text` (no leading or trailing newline), if it is simple: paragraphs of
    text, entities and autolinks such as <https://example.org>, which most abstracts are. Else
    None: Markdown converts it."""
    if not text:
        return None
    bare = AUTOLINK.sub("", text) if "<" in text else text
    if MARKUP_CHARACTER.search(bare) or "&#" in text:  # "#" left: in an address
        return None
    if not all(
        not line or (PLAIN_LINE_START.match(line) and not line[-1].isspace()) for line in text.split("\n")
    ):
        return None
    if bare is text:
        body = _markdown_escaped(text)
    else:
        parts = AUTOLINK.split(text)  # text, address, text, ...
        body = "".join(_autolink(part) if i % 2 else _markdown_escaped(part) for i, part in enumerate(parts))
    if "\n\n" not in body:  # one paragraph, as a rule: the split's pattern is tried at every character
        return f"<p>{body}</p>"
    return "\n".join(f"<p>{block}</p>" for block in PARAGRAPH_BREAK.split(body))


def render_markdown(converter: Converter, text: str) -> str:
    """Convert one document (sanitised)."""
    html = simple_html(text.strip("\n"))
    if html is not None:  # Markdown's own output, five times sooner
        return sanitise(html)
    return sanitise(converter.convert(text))


def render_papers(papers, converter: Converter) -> list[Paper]:
    """Fill in body_html for every paper."""
    return [dataclasses.replace(p, body_html=render_markdown(converter, p.body_md)) for p in papers]


def plain_text(html: str) -> str:
    """Visible text of sanitised HTML: tags dropped, entities decoded, spaces folded."""
    return " ".join(html_lib.unescape(nh3.clean(html, tags=set())).split())
