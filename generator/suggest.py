"""Suggest topics and tags for a new paper from `topics.yml` keywords and its text."""

from __future__ import annotations

import re
from functools import lru_cache

from slugify import slugify

from .model import Topic

TITLE_WEIGHT = 3
MAX_TOPICS = 3
MAX_TAGS = 6


@lru_cache(maxsize=4096)
def _phrase_re(phrase: str) -> re.Pattern:
    """Whole-word, case-insensitive match; a final 's' or 'es' is allowed (adapter ~ adapters)."""
    words = [re.escape(w) for w in re.split(r"[\s\-]+", phrase.strip()) if w]
    body = r"[\s\-]+".join(words)
    return re.compile(rf"(?<![\w-]){body}(?:e?s)?(?![\w-])", re.IGNORECASE)


def count(phrase: str, text: str) -> int:
    """How often a keyword phrase occurs in text."""
    return len(_phrase_re(phrase).findall(text))


def alternatives(keyword: str) -> list[str]:
    """A keyword entry 'lora|low-rank adaptation' lists synonyms; the first names the tag."""
    return [alt.strip() for alt in keyword.split("|") if alt.strip()]


def hits(keyword: str, title: str, abstract: str) -> int:
    """Weighted occurrences of any of a keyword's synonyms."""
    return sum(TITLE_WEIGHT * count(a, title) + count(a, abstract) for a in alternatives(keyword))


def suggest_topics(title: str, abstract: str, topics: tuple[Topic, ...]) -> tuple[str, ...]:
    """Topic slugs ranked by keyword hits (title hits weigh more); at least one, at most three."""
    scores: list[tuple[int, int, str]] = []
    for order, topic in enumerate(topics):
        score = sum(hits(k, title, abstract) for k in topic.keywords)
        scores.append((score, -order, topic.slug))
    scores.sort(reverse=True)
    best = scores[0][0] if scores else 0
    chosen = [slug for score, _, slug in scores[:MAX_TOPICS] if score > 0 and score * 3 >= best]
    return tuple(chosen or ([scores[0][2]] if scores else []))


def suggest_tags(
    title: str,
    abstract: str,
    topics: tuple[Topic, ...],
    chosen_topics: tuple[str, ...],
    known_tags: tuple[str, ...] = (),
) -> tuple[str, ...]:
    """Tag slugs, best first: once the catalogue has tags, only those (a shared vocabulary);
    for a first import, the matched `topics.yml` keywords.
    """
    candidates: dict[str, int] = {}
    known = set(known_tags)
    keywords = {k for t in topics for k in t.keywords} | {t.replace("-", " ") for t in known_tags}
    for keyword in sorted(keywords):
        n = hits(keyword, title, abstract)
        tag = slugify(alternatives(keyword)[0]) if alternatives(keyword) else ""
        if n and tag and tag not in chosen_topics and (not known or tag in known):
            candidates[tag] = max(candidates.get(tag, 0), n)
    ranked = sorted(candidates.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(tag for tag, _ in ranked[:MAX_TAGS])
