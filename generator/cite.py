"""BibTeX for the catalogue: ACL-Anthology-style citation keys and one entry per paper.

Pure functions, no I/O. Keys look like `hu-2021-lora` (ASCII, lowercase, unique across the
catalogue whatever the input order). Entries are `@article` for a paper in a journal,
`@inproceedings` for one in proceedings, and `@misc` for the rest (preprints, a DOI or not).
Text values are escaped for LaTeX with commands whose braces always balance
(`\\textbraceleft{}` rather than `\\{`, which classic BibTeX would count), so hostile titles or
names cannot close a field or an entry early; words whose capitals matter are wrapped in braces.
`url` and `doi` are verbatim fields (read by `\\url`), so only braces, backslashes and carets
(TeX's ^^5c is a backslash) are percent-encoded there. Letters beyond ASCII become LaTeX
accents, and a formula in a title stays TeX only when it is plainly one (_plain_formula).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping

from text_unidecode import unidecode

from .model import Paper

STOPWORDS = frozenset(
    "a an the on of in for to and with via is are do does how what why when towards toward".split()
)
SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_:.+/-]*$")

_LATEX = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
}
_LATEX_RE = re.compile(r"[\\{}%&$#_^~]")
# In a verbatim field (url, doi) TeX still reads ^^5c as a backslash where no url package is
# loaded (natbib's styles then print it with \\texttt): "^" is percent-encoded too.
_VERBATIM = {"{": "%7B", "}": "%7D", "\\": "%5C", "^": "%5E"}
_ALNUM_RUN = re.compile(r"[^\W_]+")
_AFFIXES = re.compile(r"^([\W_]*)(.*?)([\W_]*)$", re.S)
_NOT_KEY_CHAR = re.compile(r"[^a-z0-9]+")


def _squash(text: str) -> str:
    """Whitespace runs (newlines included) collapsed to single spaces, ends trimmed."""
    return " ".join(text.split())


# Letters beyond ASCII as LaTeX (`{\\"u}`): classic BibTeX reads bytes, and an initial or a
# case change taken from the middle of a UTF-8 letter breaks the document ("Invalid UTF-8").
# Braced, each is one "special character" to BibTeX; a character LaTeX has no name for stays.
@functools.cache
def _unicode_to_latex():
    """pylatexenc's encoder, made when a first letter beyond ASCII needs it (importing it takes
    about 30 ms, which a catalogue of plain ASCII need not spend)."""
    from pylatexenc.latexencode import UnicodeToLatexEncoder

    return UnicodeToLatexEncoder(
        non_ascii_only=True,
        replacement_latex_protection="braces-all",
        unknown_char_policy=_stacked_accents,
        unknown_char_warning=False,
    )


# The accents of LaTeX's own text commands, by the combining mark that Unicode decomposes to.
_ACCENT_COMMANDS = {
    "\u0300": "`", "\u0301": "'", "\u0302": "^", "\u0303": "~", "\u0304": "=", "\u0306": "u",
    "\u0307": ".", "\u0308": '"', "\u030a": "r", "\u030b": "H", "\u030c": "v", "\u0323": "d",
    "\u0327": "c", "\u0328": "k",
}  # fmt: skip


def _stacked_accents(char: str) -> str:
    """A letter pylatexenc has no name for, as LaTeX accents on an ASCII letter when it is one
    (Vietnamese ễ: {\\~{\\^{e}}}); any other character as it is (CJK, emoji: UTF-8 for biber)."""
    base, *marks = unicodedata.normalize("NFD", char)
    if not marks or not (base.isascii() and base.isalpha()) or any(m not in _ACCENT_COMMANDS for m in marks):
        return char
    latex = "\\i" if base == "i" else "\\j" if base == "j" else base
    for mark in marks:
        latex = "\\" + _ACCENT_COMMANDS[mark] + "{" + latex + "}"
    return "{" + latex + "}"


def _escape(text: str) -> str:
    """LaTeX-escape the characters that are special to BibTeX or LaTeX, and letters beyond ASCII."""
    text = _LATEX_RE.sub(lambda m: _LATEX[m.group()], text)
    return text if text.isascii() else _unicode_to_latex().unicode_to_latex(text)


def _group(latex: str) -> str:
    """Brace an escaped text; doubled when it starts with a command (`{\\…}` is a BibTeX accent)."""
    return "{{" + latex + "}}" if latex.startswith("\\") else "{" + latex + "}"


def _ascii_word(text: str) -> str:
    """Text folded to lowercase ASCII and stripped to [a-z0-9]."""
    return _NOT_KEY_CHAR.sub("", (text if text.isascii() else unidecode(text)).lower())  # ASCII: as is


# --- names -------------------------------------------------------------------------------------


def is_suffix(word: str) -> bool:
    """Whether a word is a generational suffix such as Jr. or III."""
    return word.lower() in SUFFIXES


def _split_first_last(words: list[str]) -> tuple[str, str]:
    """("First", "von Last") of a "First von Last" name: von starts at the first lowercase word."""
    for i, word in enumerate(words[:-1]):
        letters = [c for c in word if c.isalpha()]
        if letters and letters[0].islower():
            return " ".join(words[:i]), " ".join(words[i:])
    return " ".join(words[:-1]), words[-1]


def _name_parts(name: str) -> tuple[str, str, str] | None:
    """(first, von last, jr) of "First von Last [Jr.]", "von Last, First" or "von Last, Jr, First"."""
    name = _squash(name)
    if "," in name:
        parts = [p.strip() for p in name.split(",")]
        if len(parts) == 2 and parts[0] and is_suffix(parts[1]):
            first, last = _split_first_last(parts[0].split())
            return first, last, parts[1]
        if len(parts) == 2 and all(parts):
            return parts[1], parts[0], ""
        if len(parts) == 3 and parts[0] and parts[2]:
            return parts[2], parts[0], parts[1]
        return None  # commas that fit no form: the caller keeps the name whole
    words = name.split()
    jr: list[str] = []
    while len(words) > 1 and is_suffix(words[-1]):
        jr.insert(0, words.pop())
    first, last = _split_first_last(words)
    return first, last, " ".join(jr)


def _name_word(word: str) -> str:
    """One escaped word of a name, braced when it is "and" or would start with a command."""
    # A bare "and" separates two authors; bibtexparser's author splitting drops the first
    # characters of a name that starts with a backslash.
    latex = _escape(word)
    return _group(latex) if word.lower() == "and" or latex.startswith("\\") else latex


def _name_words(text: str) -> str:
    """Escaped name text, word by word."""
    return " ".join(_name_word(w) for w in text.split())


@functools.lru_cache(maxsize=1 << 16)  # names and title words recur across a catalogue
def _bibtex_name(name: str) -> str:
    """One author as `von Last, First` (`von Last, Jr, First`); a single word stays as it is."""
    parts = _name_parts(name)
    if parts is None:
        return _group(_escape(_squash(name)))  # braces hide its commas and any "and"
    first, last, jr = parts
    if not first:
        if jr or last.lower() == "others":  # "Last, Jr," has no first part; "others" means et al.
            return _group(_escape(_squash(f"{last} {jr}")))
        return _name_words(last)
    if jr:
        return f"{_name_words(last)}, {_name_words(jr)}, {_name_words(first)}"
    return f"{_name_words(last)}, {_name_words(first)}"


def _key_surname(authors: tuple[str, ...], organisations: tuple[str, ...] = ()) -> str:
    """The first author's last name for a key: its last word that is not a suffix, as ASCII
    (an organisation's first word: "Google DeepMind", google)."""
    names = [a for a in authors if a.strip()]
    if not names:
        return "anon"
    if names[0] in organisations:
        return next(filter(None, map(_ascii_word, names[0].split())), "anon")
    parts = _name_parts(names[0])
    last = parts[1] if parts else _squash(names[0])
    for word in reversed(last.split()):
        if not is_suffix(word) and _ascii_word(word):
            return _ascii_word(word)
    return "anon"


# --- titles ------------------------------------------------------------------------------------


def _needs_protection(core: str) -> bool:
    """Whether a word's capitals or letter-digit mix must survive a style's case change."""
    runs = _ALNUM_RUN.findall(core)
    for run in runs:
        if any(c.isupper() for c in run[1:]):  # LoRA, GPT, iPhone
            return True
        if any(c.isdigit() for c in run) and any(c.isalpha() for c in run):  # T5, v2, 7B
            return True
        if len(run) == 1 and run.isupper() and (len(runs) > 1 or run != "A"):  # Q-Learning, A/B, I, C#
            return True
    return False


@functools.lru_cache(maxsize=1 << 16)
def _protected_word(token: str) -> str:
    """One whitespace-separated title word, escaped, its core braced when it needs protection."""
    lead, core, trail = _AFFIXES.match(token).groups()
    if core and _needs_protection(core):
        return _escape(lead) + _group(_escape(core)) + _escape(trail)
    return _escape(token)


# Mathematics in a title ($\\alpha$-Scaling, $k$NN) is written as TeX, braced so that a style
# keeps its case, when it is plainly a formula that LaTeX itself sets without packages: letters,
# digits and operators, commands from these lists (none reads, writes or defines anything),
# each sub- or superscript once per base, groups nested at most MATH_DEPTH deep. Anything else
# between dollars is escaped as text, as the rest of the title is.
MATH_SYMBOLS = frozenset(
    """alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu
    xi pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega Gamma Delta Theta
    Lambda Xi Pi Sigma Upsilon Phi Psi Omega ell log exp sin cos min max arg sup inf lim sum prod
    int cdot cdots ldots dots times div pm mp le leq ge geq neq approx sim simeq equiv propto
    infty partial nabla in notin subset subseteq cup cap to rightarrow leftarrow Rightarrow mapsto
    top perp circ star ast prime""".split()
)
MATH_ONE_ARGUMENT = frozenset("mathcal mathrm mathbf mathit mathsf hat tilde bar vec dot".split())
MATH_DEPTH, MATH_LENGTH = 3, 120
_MATH = re.compile(r"\$(?! )([^$]*?[^ $])\$(?!\d)")  # as pandoc reads it: "$5 and $10" is no formula
_MATH_TOKEN = re.compile(r"\\[A-Za-z]+|[A-Za-z0-9]|[+\-*/=<>()\[\],.|':!;]|[{}^_]| ")


def _plain_formula(tex: str) -> bool:
    """Whether the TeX between two dollars is a formula as MATH_SYMBOLS describes it."""
    if len(tex) > MATH_LENGTH:
        return False
    tokens = _MATH_TOKEN.findall(tex)
    if "".join(tokens) != tex:
        return False  # a character outside the grammar (^^ notation, #, %, ~, &, \\, …)
    tokens = [t for t in tokens if t != " "]
    at = _formula(tokens, 0, 0)
    return at == len(tokens)


def _formula(tokens: list[str], at: int, depth: int) -> int | None:
    """Parse atoms with their scripts from `at` to the end or a closing brace; where it stopped,
    or None when the formula is not plain."""
    while at < len(tokens) and tokens[at] != "}":
        at = _atom(tokens, at, depth)
        if at is None:
            return None
        scripts = set()
        while at < len(tokens) and tokens[at] in "^_":
            if tokens[at] in scripts:
                return None  # a double superscript or subscript
            scripts.add(tokens[at])
            at = _atom(tokens, at + 1, depth)
            if at is None:
                return None
    return at


def _atom(tokens: list[str], at: int, depth: int) -> int | None:
    """One atom (a symbol, a command with its argument, or a braced group); where it ends."""
    if at >= len(tokens) or tokens[at] in "^_}":
        return None
    token = tokens[at]
    if token == "{":
        if depth >= MATH_DEPTH:
            return None
        end = _formula(tokens, at + 1, depth + 1)
        return end + 1 if end is not None and end < len(tokens) else None
    if token.startswith("\\"):
        name = token[1:]
        if name in MATH_ONE_ARGUMENT:
            return _atom(tokens, at + 1, depth)
        return at + 1 if name in MATH_SYMBOLS else None
    return at + 1


def _bibtex_title(title: str) -> str:
    """The title escaped for LaTeX, with capitalised words protected and formulas kept as TeX."""
    title = _squash(title)
    parts, at = [], 0
    for match in _MATH.finditer(title):
        if _plain_formula(match.group(1)):
            parts += [_bibtex_words(title[at : match.start()]), "{" + match.group() + "}"]
            at = match.end()
    return "".join([*parts, _bibtex_words(title[at:])])


def _bibtex_words(text: str) -> str:
    return " ".join(_protected_word(token) if token else "" for token in text.split(" "))


def _key_word(title: str) -> str:
    """The first title word that is not a stopword, as ASCII; "untitled" when there is none."""
    words = [w for w in (_ascii_word(t) for t in title.split()) if w]
    for word in words:
        if word not in STOPWORDS:
            return word
    return words[0] if words else "untitled"


# --- public ------------------------------------------------------------------------------------


def citation_keys(papers) -> dict[str, str]:
    """Slug -> unique `lastname-year-firstword` key; clashes get -2, -3, … in order of `added`.

    The paper that joined the catalogue first keeps the plain key, so adding a paper never
    changes a key someone may already cite (same-day additions are ordered by slug).
    """
    papers = list(papers)
    groups: dict[str, list] = defaultdict(list)
    for paper in papers:
        year = str(paper.year) if paper.year is not None else "nd"
        surname = _key_surname(paper.authors, paper.organisations)
        groups[f"{surname}-{year}-{_key_word(paper.title)}"].append(paper)
    # Base keys have exactly two hyphens, suffixed ones three, so suffixes never clash with a base key.
    keys = {}
    for base, members in groups.items():
        for n, paper in enumerate(sorted(members, key=lambda p: (p.added, p.slug)), start=1):
            keys[paper.slug] = base if n == 1 else f"{base}-{n}"
    return {paper.slug: keys[paper.slug] for paper in papers}


def _month(date: str | None) -> str | None:
    """The BibTeX month macro of a "YYYY-MM[-DD]" date, if it has a month."""
    if date and len(date) >= 7 and date[5:7].isdigit() and 1 <= int(date[5:7]) <= 12:
        return MONTHS[int(date[5:7]) - 1]
    return None


def _verbatim(value: str) -> str:
    """A URL or DOI for a verbatim field: braces, backslashes and carets percent-encoded."""
    return "".join(_VERBATIM.get(c, c) for c in _squash(value))


def bibtex_entry(paper: Paper, key: str) -> str:
    """One BibTeX entry (ending with a newline): `@article` in a journal, `@inproceedings` in
    proceedings (its `booktitle`), else `@misc` (a preprint, a DOI or not)."""
    if not KEY_RE.match(key):
        raise ValueError(f"not a usable BibTeX key: {key!r}")
    fields = [("title", "{" + _bibtex_title(paper.title) + "}")]
    authors = [  # an organisation braced whole: BibTeX would split it into first and last names
        _group(_escape(_squash(a))) if a in paper.organisations else _bibtex_name(a)
        for a in paper.authors
        if a.strip()
    ]
    if authors:
        fields.append(("author", "{" + " and ".join(authors) + "}"))
    if paper.journal:
        fields.append(("journal", "{" + _escape(_squash(paper.journal)) + "}"))
    elif paper.proceedings:
        fields.append(("booktitle", "{" + _escape(_squash(paper.proceedings)) + "}"))
    if paper.year is not None:
        fields.append(("year", f"{{{paper.year}}}"))
    month = _month(paper.date)
    if month:
        fields.append(("month", month))
    if paper.doi:
        fields.append(("doi", "{" + _verbatim(paper.doi) + "}"))
    url = paper.url or (f"https://arxiv.org/abs/{paper.arxiv}" if paper.arxiv else None)
    if url:
        fields.append(("url", "{" + _verbatim(url) + "}"))
    if paper.arxiv:
        fields.append(("eprint", "{" + _verbatim(paper.arxiv) + "}"))
        fields.append(("archivePrefix", "{arXiv}"))
    kind = "article" if paper.journal else "inproceedings" if paper.proceedings else "misc"
    body = ",\n".join(f"  {name} = {value}" for name, value in fields)
    return f"@{kind}{{{key},\n{body}\n}}\n"


def bibliography(papers, keys: dict[str, str], entries: Mapping[str, str] | None = None) -> str:
    """All entries in the given (catalogue) order, separated by blank lines; "" when empty.

    `entries` (by slug) are bibtex_entry results already made, e.g. remembered by the build cache.
    """
    made = entries or {}
    return "\n".join(made.get(paper.slug) or bibtex_entry(paper, keys[paper.slug]) for paper in papers)
