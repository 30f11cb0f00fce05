"""Property-based tests (Hypothesis): hostile text never crashes validation or rendering, and
sanitised output never carries an event handler or a dangerous link."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.load import RawDocument
from generator.markup import make_converter, render_markdown, sanitise
from generator.model import Topic
from generator.validate import TopicIndex, link_problem, validate_document

TOPICS = TopicIndex.of((Topic("fine-tuning", "Fine-tuning", ""),))
CONVERTER = make_converter()
MARKUP = st.sampled_from(
    [
        "<",
        ">",
        "[",
        "]",
        "(",
        ")",
        "`",
        "*",
        "_",
        "!",
        "#",
        "-",
        "\n",
        " ",
        "&",
        ";",
        "javascript:",
        "JaVaScRiPt:",
        "data:",
        "&#x09;",
        "onerror=",
        "<img",
        "<script>",
        "</script>",
        '"',
        "'",
        "=",
        "https://x.org",
        "<svg/onload=alert(1)>",
        "\\",
    ]
)
HOSTILE_TEXT = st.lists(st.one_of(MARKUP, st.text(max_size=8)), max_size=60).map("".join)
SAFE_SCHEMES = ("http:", "https:", "mailto:")


class Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.handlers: list[str] = []
        self.links: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append(name)
            if name in ("href", "src", "action", "formaction", "xlink:href"):
                self.links.append(value or "")


def inspect(html: str) -> Collector:
    collector = Collector()
    collector.feed(html)
    return collector


def dangerous(url: str) -> bool:
    seen = re.sub(r"[\x00-\x20\x7f]", "", url).lower()
    return ":" in seen.split("/")[0] and not seen.startswith(SAFE_SCHEMES)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE_TEXT)
def test_rendering_never_raises_and_output_is_inert(text):
    html = render_markdown(CONVERTER, text)
    found = inspect(html)
    assert found.handlers == []
    assert not [u for u in found.links if dangerous(u)]
    assert not found.tags & {"script", "img", "iframe", "svg", "style", "object", "embed", "form"}


@settings(max_examples=300, deadline=None)
@given(HOSTILE_TEXT)
def test_sanitiser_alone_strips_handlers_and_schemes(text):
    found = inspect(sanitise(text))
    assert found.handlers == [] and not [u for u in found.links if dangerous(u)]


@settings(max_examples=300, deadline=None)
@given(title=HOSTILE_TEXT, body=HOSTILE_TEXT, tag=st.text(max_size=12))
def test_validation_never_raises_on_arbitrary_content(title, body, tag):
    text = f'---\ntitle: {title!r}\nadded: "2024-01-01"\ntopics: ["fine-tuning"]\ntags: [{tag!r}]\n---\n\n{body}\n'
    paper, errors = validate_document(RawDocument("content/papers/x.md", "x", text), TOPICS)
    assert (paper is None) == bool(errors)
    for error in errors:
        assert error.path == "content/papers/x.md" and error.message


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_a_link_check_passes_only_safe_absolute_urls(dest):
    if not link_problem(dest):
        assert not dangerous(dest)
