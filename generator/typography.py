"""Clean up LaTeX leftovers of arXiv abstracts and write them as safe Markdown."""

from __future__ import annotations

import re
import unicodedata

# LaTeX accent commands -> Unicode combining marks.
ACCENTS = {
    '"': "\u0308",
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "c": "\u0327",
    "v": "\u030c",
    "u": "\u0306",
    "H": "\u030b",
}
_ACCENT_RE = re.compile(r"""\{?\\(["'`^~=.]|[cvuH](?=[\s{]))\s*\{?([A-Za-z])\}?\}?""")
_SUBS = (
    (re.compile(r"``(.*?)''", re.S), "\u201c\\1\u201d"),  # ``quoted'' -> “quoted”
    (re.compile(r"(?<![`\w])`([^`']{1,80})'(?!')"), "\u2018\\1\u2019"),  # `quoted' -> ‘quoted’
    (re.compile(r"\$\\sim\$\s*|\\sim\s*"), "~"),
    (re.compile(r"(?<![A-Za-z])sim\s?(?=[\d.]*\d)"), "~"),  # stray `sim0.01%` -> `~0.01%`
    (re.compile(r"\\([%&_#$])"), "\\1"),  # escaped LaTeX specials
    (re.compile(r"\$\s*([<>=])\s*\$"), "\\1"),
    (re.compile(r"---"), "\u2014"),
    (re.compile(r"(?<=[A-Za-z.,;:])~(?=[A-Za-z(\[\d])"), " "),  # LaTeX tie: Adapters~(LoRA), Table~1
)
URL_RE = re.compile(r"https?://[^\s<>\"'`]+")
TRAILING = ".,;:!?'\"”’"
CODE_HOSTS = ("github.com", "gitlab.com", "huggingface.co", "bitbucket.org", "codeberg.org")


def _accent(match: re.Match) -> str:
    return unicodedata.normalize("NFC", match.group(2) + ACCENTS[match.group(1)])


def clean(text: str) -> str:
    """Typographic clean-up: accents, quotes, `sim`, escaped specials; spaces folded."""
    text = _ACCENT_RE.sub(_accent, text)
    for pattern, repl in _SUBS:
        text = pattern.sub(repl, text)
    return " ".join(text.split())


PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")


def clean_paragraphs(text: str) -> str:
    """clean() of each paragraph (a blank line ends one), joined by blank lines: a wrapped
    abstract becomes one line per paragraph."""
    return "\n\n".join(filter(None, (clean(p) for p in PARAGRAPH_BREAK.split(text))))


def split_url(candidate: str) -> tuple[str, str]:
    """(url, trailing text): strip punctuation that ends the sentence, keep balanced ')'."""
    url = candidate
    while url:
        if url[-1] in TRAILING:
            url = url[:-1]
        elif url[-1] == ")" and url.count("(") < url.count(")"):
            url = url[:-1]
        else:
            break
    return url, candidate[len(url) :]


def find_urls(text: str) -> list[str]:
    """Every URL in the text, without trailing punctuation."""
    return [split_url(m.group(0))[0] for m in URL_RE.finditer(text)]


def code_url(text: str) -> str | None:
    """The first https URL on a code host, if any (a Hugging Face dataset is data, not code)."""
    for url in find_urls(text):
        parts = url.split("/")
        host = parts[2].lower().removeprefix("www.") if len(parts) > 2 else ""
        if url.startswith("https://") and host in CODE_HOSTS and len(parts) >= 5:
            if host != "huggingface.co" or parts[3] != "datasets":
                return url
    return None


_MD_SPECIAL = re.compile(r"([\\`*_\[\]])")


def escape_markdown(text: str) -> str:
    """Escape what Markdown would treat as markup, so the text renders word for word."""
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = re.sub(r"^(\s*)([#>+\-])(?=\s)", r"\1\\\2", text)
    return re.sub(r"^(\s*)(\d+)([.)])(?=\s)", r"\1\2\\\3", text)


def to_markdown(text: str) -> str:
    """Cleaned plain text -> Markdown: specials escaped, URLs as autolinks `<https://…>`;
    paragraphs (split by blank lines) each on their own."""
    return "\n\n".join(_paragraph_markdown(p) for p in text.split("\n\n"))


def _paragraph_markdown(text: str) -> str:
    out: list[str] = []
    pos = 0
    for match in URL_RE.finditer(text):
        url, _ = split_url(match.group(0))
        out.append(escape_markdown(text[pos : match.start()]))
        out.append(f"<{url}>")
        pos = match.start() + len(url)
    out.append(escape_markdown(text[pos:]))
    return "".join(out)
