"""Property-based tests (Hypothesis): hostile text never crashes validation or rendering, and
sanitised output never carries an event handler or a dangerous link."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from generator.frontmatter import parse
from generator.load import RawDocument
from generator.markup import make_converter, render_markdown, sanitise
from generator.model import Topic
from generator.validate import TopicIndex, link_problem, validate_document

from .conftest import SEED

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


# Abstracts that Markdown leaves alone but for the paragraphs, with one character or line start
# put in somewhere that may or may not make it Markdown.
PROSE_PIECES = [
    " Fine",
    " tuning",
    " (a)",
    ' "q"',
    " 's",
    " Über",
    " é",
    " 1.5",
    " 2023",
    " x1.",
    ", x",
    ". X",
]
PROSE_PIECES += [
    ": y",
    "; z",
    " - w",
    "+v",
    "%",
    "/u",
    "?",
    "~",
    "$",
    "{",
    "}",
    "|",
    "^",
    "@",
    "\u2028",
    "\x85",
]
PROSE_PIECES += ["\nLoRA", "\n(b)", '\n"r"', "\n's", "\n\nNew", "\n\n\nThird", "\n\n(c)"]
# Autolinks, entities and the characters Markdown escapes, which simple abstracts may have too
PROSE_PIECES += [
    " <https://github.com/a_b/c*d>",
    " <http://x.org/?a=1&b=2&amp;c=&copy>",
    ' <https://x.org/"q">',
    ' <https://x.org/?q="&#39x>',
    " <https://x.org/#top>",
    " &amp;",
    " &lt;sks>",
    " R&D",
    " &copy 2024",
    " &#39;",
    " &#X27;",
    " &x;",
    " (>95%)",
    " x = y",
    " #1",
]
SPOILER = st.sampled_from(
    "\t \r \r\n \x02 \x03 \x00 & &amp; < > <b> * _ ` [ ] ! \\ = # \xa0 \u3000 \u200b".split(" ")
    + [
        "<https://a.b>",
        "<HTTPS://A.B>",
        "<https://a.b/`>",
        "<https://a\xa0b>",
        "<https://a b>",
        "<ftp://a.b>",
    ]
    + ["<https://a.b/\\_x>", "<https://a.b/[x]>", "<https://a.b/\n>", "<a@b.c>", "</https://a.b>", "&", "&#"]
    + [" \n", "  \n", "\n ", "\n    ", "\n===", "\n---", "\n***", "\n\xa0", "\n\t", " ", "\n", "\n\n"]
    + ["\n\n1. ", "\n\n2) ", "\n\n- ", "\n\n* ", "\n\n+ ", "\n\n> ", "\n\n# ", "\n\n    ", "\n\nÜ"]
) | st.characters(codec="utf-8")
PROSE = st.tuples(
    st.lists(st.sampled_from(PROSE_PIECES), max_size=30).map(lambda pieces: "A" + "".join(pieces)),
    st.none() | SPOILER,
    st.integers(min_value=0, max_value=400),
).map(
    lambda t: t[0] if t[1] is None else t[0][: t[2] % (len(t[0]) + 1)] + t[1] + t[0][t[2] % (len(t[0]) + 1) :]
)


@settings(max_examples=500, deadline=None)
@given(PROSE)
@example("Fine\n\n1. one")  # each kind of spoiler at least once, whatever is generated
@example("Fine\n\n2024. one")
@example("Fine\n\n    code")
@example("Fine  \nbreak")
@example("Fine\n===")
@example("Fine\n\n- item\n\n> quote\n\n# head")
@example("Fine\ttab")
@example("x & y")
@example("Code: <https://github.com/a_b/c?x=1&y=2>. R&D &amp; more (>95%) &lt;sks> x = 1 #2 &copy")
@example("A &copy 2024 &#3G9;")
@example('See <https://a.b/?q="&#39>')  # html.parser reads the address as a tag left open
@example("See <https://a.b/?q='&#3x>")
@example('A<http://a&#3="--/>')
@example("See <https://a.b/*x*> and *this*")
@example("See <https://a.b/`x> `y`")
@example("See <https://a.b/[x]>(y)")
@example("Mail <a@b.c> or <https://a.b>")
@example("Fine\x02")
@example("Fine\u2028\n\nNext\xa0")
def test_plain_abstracts_skip_markdown_yet_render_as_markdown_renders_them(text):
    assert render_markdown(CONVERTER, text) == sanitise(CONVERTER.convert(text))


def test_the_catalogues_abstracts_render_as_markdown_renders_them():
    for path in sorted((SEED / "content" / "papers").glob("*.md")):
        body = parse(path.read_text(encoding="utf-8"), str(path)).body
        assert render_markdown(CONVERTER, body) == sanitise(CONVERTER.convert(body)), path


class NoMarkdown:
    """A converter that must not be asked: the text is plain."""

    def convert(self, text):
        raise AssertionError(f"Markdown was asked to convert {text!r}")


def test_typical_abstracts_take_the_plain_path_and_markup_does_not():
    abstract = 'We study LoRA (low-rank adaptation).\nIt is 1.5x faster: see "Results".\n\nA second one.'
    assert render_markdown(NoMarkdown(), abstract) == sanitise(CONVERTER.convert(abstract))
    assert render_markdown(NoMarkdown(), abstract).count("<p>") == 2
    linked = "Code at <https://github.com/a_b/c?x=1&y=2>.\nR&D &amp; more (>95%), a &lt;sks> dog, x = 1."
    html = render_markdown(NoMarkdown(), linked)
    assert html == sanitise(CONVERTER.convert(linked))
    assert '<a href="https://github.com/a_b/c?x=1&amp;y=2" rel="nofollow noopener noreferrer">' in html
    assert "R&amp;D &amp; more (&gt;95%), a &lt;sks&gt; dog" in html
    for marked in [
        "We *study* it.",
        "A list:\n- one",
        "Ends in a break  \nhere",
        "See <a@b.c>",
        "See <https://a.b> <b>here</b>",
        "See <https://a.b/`x> `y`",
        "<https://a.b> starts the line",
        "See &#3x",
        'See <https://a.b/?q="&#3x>',
    ]:
        with pytest.raises(AssertionError, match="Markdown was asked"):
            render_markdown(NoMarkdown(), marked)


@given(
    st.one_of(
        st.text(),
        st.text(alphabet="&<>\"'ab &amp;"),
        st.integers(),
        st.floats(allow_nan=False),
        st.none(),
        st.booleans(),
        st.text().map(lambda text: __import__("markupsafe").Markup(text)),
    )
)
@example('Tom & Jerry\'s <b>"x"</b>')
def test_template_output_escapes_as_markupsafe_does(value):
    """Pages are escaped by render._escaped: the same text as markupsafe.escape gives."""
    from markupsafe import escape

    from generator.render import _escaped

    assert _escaped(value) == str(escape(value))
    assert _escaped(value) == str(escape(value))  # again, as remembered
    assert type(_escaped(value)) is str or hasattr(value, "__html__")
    text = str(value)  # its text as a plain str, remembered escaped, then as Markup: not confused
    assert _escaped(text) == str(escape(text))
    assert _escaped(__import__("markupsafe").Markup(text)) == text


def test_templates_escape_through_escaped_and_strict_undefined_still_raises(tmp_path):
    """Every template the build loads writes values through _escaped, with the same result as
    Jinja's own escaping; an undefined value still fails the page."""
    import jinja2

    from generator.render import _escaped, make_environment

    (tmp_path / "t.html").write_text('<a title="{{ t }}">{{ n }}{{ m }}</a>{% if x %}{{ x }}{% endif %}')
    env = make_environment(tmp_path)
    template = env.get_template("t.html")
    assert template.root_render_func.__globals__["escape"] is _escaped
    from markupsafe import Markup

    page = template.render(t='"it\'s" <x> & y', n=3, m=Markup("<b>ok</b>"), x=None)
    assert page == '<a title="&#34;it&#39;s&#34; &lt;x&gt; &amp; y">3<b>ok</b></a>'
    plain = jinja2.Environment(autoescape=True).from_string((tmp_path / "t.html").read_text())
    assert page == plain.render(t='"it\'s" <x> & y', n=3, m=Markup("<b>ok</b>"), x=None)
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()
