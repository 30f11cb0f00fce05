#!/usr/bin/env python3
"""Generate a deterministic synthetic catalogue of N papers for benchmarks.

    python benchmarks/make_catalogue.py N OUT [--seed 42]

Writes OUT/content/{site.yml,topics.yml,papers/*.md} in papercat's content format. The
seed is the catalogue the project started with (tests/fixtures/seed, frozen, so that a
catalogue's figures do not change as content/ does): its topics, its tag vocabulary and its
abstracts, whose sentences are mixed into new ones; titles, authors, dates, topics and tags vary.
Same N and seed, same bytes. Stdlib only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import shutil
from datetime import date, timedelta
from pathlib import Path


def default_work() -> Path:
    """The benchmarks' scratch folder: $BENCH_WORK, else papercat-bench in $TMPDIR (or /tmp)."""
    return Path(os.environ.get("BENCH_WORK") or Path(os.environ.get("TMPDIR", "/tmp")) / "papercat-bench")


def bench_sizes(doc: str) -> list[int]:
    """The catalogue sizes a benchmark script is given (default: 1000 10000); --help shows `doc`."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", type=int, nargs="*", default=[1000, 10000], help="catalogue sizes")
    return parser.parse_args().sizes


REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "tests" / "fixtures" / "seed"  # the first 70 papers, frozen: whatever content/ holds
FIRST = ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Fatima", "Goran", "Hana", "Ivan", "Jia", "Kofi",
         "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quentin", "Rosa", "Sven", "Tomoko", "Uma", "Viktor",
         "Wei", "Ximena", "Yusuf", "Zara", "Arjun", "Beatriz", "Carlos", "Dmitri"]
LAST = ["Abe", "Banerjee", "Castillo", "Dubois", "Eriksen", "Fischer", "García", "Huang", "Ibrahim",
        "Jensen", "Kim", "López", "Müller", "Nakamura", "Okafor", "Petrov", "Qureshi", "Rossi", "Santos",
        "Tanaka", "Ueda", "Varga", "Wang", "Xu", "Yamamoto", "Zhang", "Novák", "Silva", "Cohen", "Andersson"]
# Titles of variants get three of these words, so no two are near duplicates of each other.
WORDS = ["Revisited", "Scalable", "Robust", "Sparse", "Efficient", "Adaptive", "Multilingual", "Frugal",
         "Calibrated", "Modular", "Federated", "Continual", "Grounded", "Faithful", "Compositional",
         "Hierarchical", "Contrastive", "Curriculum", "Distilled", "Quantized", "Streaming", "Private",
         "Interpretable", "Causal", "Temporal", "Structured", "Lightweight", "Universal", "Dynamic",
         "Elastic", "Stable", "Sharper", "Cheaper", "Faster", "Deeper", "Wider", "Noisy", "Clean",
         "Verified", "Open"]
COMBOS = list(itertools.combinations(WORDS, 3))
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


def seed_papers() -> list[tuple[str, str]]:
    """(title, abstract) of the seed catalogue."""
    out = []
    for path in sorted((SEED / "content" / "papers").glob("*.md")):
        _, head, body = path.read_text(encoding="utf-8").split("---\n", 2)
        title = json.loads(re.search(r"^title: (.*)$", head, re.M).group(1))
        out.append((title, body.strip()))
    return out


def vocabulary() -> tuple[list[str], list[str]]:
    """Topic slugs and tags in use in the seed catalogue."""
    topics = re.findall(r"^- slug: (\S+)", (SEED / "content" / "topics.yml").read_text(), re.M)
    tags = set()
    for path in (SEED / "content" / "papers").glob("*.md"):
        m = re.search(r"^tags: (\[.*\])$", path.read_text(encoding="utf-8"), re.M)
        tags.update(json.loads(m.group(1)))
    return topics, sorted(tags)


def q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def generate(n: int, out: Path, seed: int = 42) -> int:
    """Write the catalogue; returns the number of papers."""
    rng = random.Random(seed)
    seeds = seed_papers()
    sentences = [SENTENCE.split(a) for _, a in seeds]
    topics, tags = vocabulary()
    papers = out / "content" / "papers"
    shutil.rmtree(out / "content", ignore_errors=True)
    papers.mkdir(parents=True)
    shutil.copy(SEED / "content" / "topics.yml", out / "content" / "topics.yml")
    (out / "content" / "site.yml").write_text(
        'title: "Benchmark Catalogue"\ndescription: "Synthetic papers."\n'
        'base_url: "https://example.org/bench/"\nlanguage: "en"\n', encoding="utf-8")
    start, span = date(2019, 1, 1), (date(2026, 10, 31) - date(2019, 1, 1)).days
    for i in range(n):
        k = i % len(seeds)
        title, abstract = seeds[k]
        if i >= len(seeds):
            variant = i // len(seeds)
            words = list(COMBOS[(variant * 7919) % len(COMBOS)])  # distinct for every variant
            rng.shuffle(words)
            title = f"{' '.join(words)} {title} {variant}"
            donors = [k] + rng.sample(range(len(seeds)), 2)
            pool = [s for d in donors for s in sentences[d]]
            abstract = " ".join(rng.sample(pool, min(len(pool), rng.randint(6, 12))))
        published = start + timedelta(days=rng.randint(0, span))
        added = min(published + timedelta(days=rng.randint(0, 90)), date(2026, 11, 1))
        arxiv = f"{published.year % 100:02d}{published.month:02d}.{i % 100000:05d}"
        authors = [f"{FIRST[j % 30]} {LAST[j // 30]}" for j in rng.sample(range(900), rng.randint(1, 8))]
        slug = f"p{i:06d}-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:50].strip("-")
        (papers / f"{slug}.md").write_text(
            "---\n"
            f"title: {q(title)}\n"
            f"authors: {json.dumps(authors, ensure_ascii=False)}\n"
            f'date: "{published.isoformat()}"\n'
            f'added: "{added.isoformat()}"\n'
            f'arxiv: "{arxiv}"\n'
            f"topics: {json.dumps(rng.sample(topics, rng.randint(1, 3)))}\n"
            f"tags: {json.dumps(rng.sample(tags, rng.randint(2, 5)))}\n"
            "---\n\n"
            f"{abstract}\n",
            encoding="utf-8",
        )
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("n", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    count = generate(args.n, args.out, args.seed)
    print(f"{count} papers -> {args.out / 'content' / 'papers'}")


if __name__ == "__main__":
    main()
