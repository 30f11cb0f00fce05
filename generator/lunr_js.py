"""lunr.py pipeline functions that behave exactly like lunr.js 2.3.9's.

lunr.py ships a different Porter stemmer (it turns `key`, `day`, `play` into `kei`,
`dai`, `plai`; lunr.js leaves them) and a Unicode-aware trimmer that keeps tokens such
as `(e.g.` whole. An index built with those misses words when lunr.js queries it in the
browser. These functions are line-for-line ports of lunr.js's `stemmer` and `trimmer`
and carry the same pipeline labels, so the serialised index names lunr.js's own
functions and both sides produce the same terms (tests compare them through Node).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from lunr.builder import Builder
from lunr.index import Index
from lunr.pipeline import Pipeline
from lunr.stop_word_filter import stop_word_filter

# JavaScript's \s: the separators lunr.js splits queries on, beyond lunr.py's own set.
JS_SPACE_RE = re.compile("[\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]")

_LEADING = re.compile(r"^\W+", re.ASCII)
_TRAILING = re.compile(r"\W+\Z", re.ASCII)


def _trim(s: str, metadata=None) -> str:
    return _TRAILING.sub("", _LEADING.sub("", s, count=1), count=1)


def trimmer(token, i=None, tokens=None):
    """lunr.trimmer: strip non-[A-Za-z0-9_] characters from both ends (ASCII \\W, as in JS)."""
    return token.update(_trim)


_STEP2 = {
    "ational": "ate",
    "tional": "tion",
    "enci": "ence",
    "anci": "ance",
    "izer": "ize",
    "bli": "ble",
    "alli": "al",
    "entli": "ent",
    "eli": "e",
    "ousli": "ous",
    "ization": "ize",
    "ation": "ate",
    "ator": "ate",
    "alism": "al",
    "iveness": "ive",
    "fulness": "ful",
    "ousness": "ous",
    "aliti": "al",
    "iviti": "ive",
    "biliti": "ble",
    "logi": "log",
}
_STEP3 = {"icate": "ic", "ative": "", "alize": "al", "iciti": "ic", "ical": "ic", "ful": "", "ness": ""}
_c, _v = "[^aeiou]", "[aeiouy]"
_C, _V = _c + "[^aeiouy]*", _v + "[aeiou]*"
# JS `.` never matches line terminators and JS `$` is the true end: mirror both.
_DOT = "[^\n\r\u2028\u2029]"
_MGR0 = re.compile("^(" + _C + ")?" + _V + _C)
_MEQ1 = re.compile("^(" + _C + ")?" + _V + _C + "(" + _V + ")?\\Z")
_MGR1 = re.compile("^(" + _C + ")?" + _V + _C + _V + _C)
_S_V = re.compile("^(" + _C + ")?" + _v)
_RE_1A = re.compile(f"^({_DOT}+?)(ss|i)es\\Z")
_RE2_1A = re.compile(f"^({_DOT}+?)([^s])s\\Z")
_RE_1B = re.compile(f"^({_DOT}+?)eed\\Z")
_RE2_1B = re.compile(f"^({_DOT}+?)(ed|ing)\\Z")
_LAST = re.compile(f"{_DOT}\\Z")
_RE2_1B_2 = re.compile("(at|bl|iz)\\Z")
_RE3_1B_2 = re.compile("([^aeiouylsz])\\1\\Z")
_RE4_1B_2 = re.compile("^" + _C + _v + "[^aeiouwxy]\\Z")
_RE_1C = re.compile(f"^({_DOT}+?[^aeiou])y\\Z")
_RE_2 = re.compile(
    f"^({_DOT}+?)("
    + "|".join(
        "ational tional enci anci izer bli alli entli eli ousli ization ation ator alism iveness "
        "fulness ousness aliti iviti biliti logi".split()
    )
    + ")\\Z"
)
_RE_3 = re.compile(f"^({_DOT}+?)(icate|ative|alize|iciti|ical|ful|ness)\\Z")
_RE_4 = re.compile(
    f"^({_DOT}+?)(al|ance|ence|er|ic|able|ible|ant|ement|ment|ent|ou|ism|ate|iti|ous|ive|ize)\\Z"
)
_RE2_4 = re.compile(f"^({_DOT}+?)(s|t)(ion)\\Z")
_RE_5 = re.compile(f"^({_DOT}+?)e\\Z")
_RE_5_1 = re.compile("ll\\Z")
_RE3_5 = re.compile("^" + _C + _v + "[^aeiouwxy]\\Z")


def _drop_last(w: str) -> str:
    return _LAST.sub("", w, count=1)


@lru_cache(maxsize=200_000)
def porter_stem(w: str) -> str:
    """lunr.js 2.3.9's porterStemmer, step for step."""
    if len(w) < 3:
        return w
    firstch = w[0]
    if firstch == "y":
        w = "Y" + w[1:]
    if m := _RE_1A.match(w):
        w = m.group(1) + m.group(2)
    elif m := _RE2_1A.match(w):
        w = m.group(1) + m.group(2)
    if m := _RE_1B.match(w):
        if _MGR0.search(m.group(1)):
            w = _drop_last(w)
    elif m := _RE2_1B.match(w):
        stem = m.group(1)
        if _S_V.search(stem):
            w = stem
            if _RE2_1B_2.search(w):
                w += "e"
            elif _RE3_1B_2.search(w):
                w = _drop_last(w)
            elif _RE4_1B_2.search(w):
                w += "e"
    if m := _RE_1C.match(w):
        w = m.group(1) + "i"
    if m := _RE_2.match(w):
        if _MGR0.search(m.group(1)):
            w = m.group(1) + _STEP2[m.group(2)]
    if m := _RE_3.match(w):
        if _MGR0.search(m.group(1)):
            w = m.group(1) + _STEP3[m.group(2)]
    if m := _RE_4.match(w):
        if _MGR1.search(m.group(1)):
            w = m.group(1)
    elif m := _RE2_4.match(w):
        stem = m.group(1) + m.group(2)
        if _MGR1.search(stem):
            w = stem
    if m := _RE_5.match(w):
        stem = m.group(1)
        if _MGR1.search(stem) or (_MEQ1.search(stem) and not _RE3_5.search(stem)):
            w = stem
    if _RE_5_1.search(w) and _MGR1.search(w):
        w = _drop_last(w)
    if firstch == "y":
        w = "y" + w[1:]
    return w


def stemmer(token, i=None, tokens=None):
    """lunr.stemmer: the Porter stemmer exactly as lunr.js applies it."""
    return token.update(lambda s, metadata=None: porter_stem(s))


# Same labels as lunr.js's registered functions: the serialised pipeline names those.
trimmer.label = "trimmer"
stemmer.label = "stemmer"


_ACCENTS = re.compile("[\u0300-\u036f]")


def fold_text(s: str, metadata=None) -> str:
    """Drop accents as templates/static/lunr-fold.js does: NFD, then remove U+0300..U+036F."""
    return _ACCENTS.sub("", unicodedata.normalize("NFD", s))


def fold(token, i=None, tokens=None):
    """papercatFold: accents fold, so "Tülu" and "tulu" index and query alike."""
    return token.update(fold_text)


# Same labels as lunr.js's registered functions: the serialised pipeline names those.
# `papercatFold` is registered in the browser by templates/static/lunr-fold.js.
fold.label = FOLD_LABEL = "papercatFold"


def make_builder() -> Builder:
    """A lunr.py Builder with lunr.js 2.3.9's pipeline, plus accent folding before it."""
    builder = Builder()
    builder.pipeline.add(fold, trimmer, stop_word_filter, stemmer)
    builder.search_pipeline.add(fold, stemmer)
    return builder


def load_index(serialised: dict) -> Index:
    """Load a serialised index in lunr.py with the lunr.js-compatible search pipeline."""
    index = Index.load({**serialised, "pipeline": []})  # lunr.py does not know papercatFold
    index.pipeline = Pipeline()
    index.pipeline.add(fold, stemmer)
    return index
