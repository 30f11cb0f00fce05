#!/usr/bin/env python3
"""Search budgets: bytes before the first result, index sizes, load time and query latency.

    python benchmarks/search_bench.py [N ...]        (default: 1000 10000)

For each N: generates a synthetic catalogue (benchmarks/make_catalogue.py) under
$BENCH_WORK (default: $TMPDIR/papercat-bench, as bench.py), builds it, then prints the sizes of what the
browser fetches (raw and gzip) and, under Node, the median index load time and query
p50/p95 of the same engine the browser's worker runs (templates/static/search-core.js).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from make_catalogue import bench_sizes, default_work, generate  # noqa: E402

from generator.build import Project, build  # noqa: E402

STATIC = REPO / "templates" / "static"
WORKER_FILES = ["search-worker.js", "vendor/lunr-2.3.9.min.js", "lunr-fold.js", "search-core.js"]


def sizes(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    return len(data), len(gzip.compress(data, 6))


def queries(site: Path, count: int = 300, seed: int = 7) -> list[str]:
    """Realistic queries: title words, pairs, prefixes being typed, and typos."""
    rng = random.Random(seed)
    meta = json.loads((site / "search" / "meta.json").read_text())
    words = [w.lower() for d in meta["docs"][:2000] for w in re.findall(r"[A-Za-z]{4,}", d[1])]
    out = []
    for i in range(count):
        w = rng.choice(words)
        kind = i % 4
        if kind == 0:
            out.append(w)
        elif kind == 1:
            out.append(f"{w} {rng.choice(words)}")
        elif kind == 2:
            out.append(w[: rng.randint(2, len(w))])
        else:
            j = rng.randrange(len(w))
            out.append(w[:j] + w[j + 1 :])  # a dropped letter
    return out


def bench(n: int, work: Path) -> dict:
    root = work / f"catalogue-{n}"
    if not (root / "content" / "papers").is_dir() or len(list((root / "content" / "papers").iterdir())) != n:
        generate(n, root)
    project = Project(root, root / "content", REPO / "templates", root / "site")
    started = time.perf_counter()
    build(project)
    built = time.perf_counter() - started
    site = project.output
    meta_raw, meta_gz = sizes(site / "search" / "meta.json")
    abs_raw, abs_gz = sizes(site / "search" / "abstracts.json")
    code_raw = sum(sizes(STATIC / f)[0] for f in WORKER_FILES)
    code_gz = sum(sizes(STATIC / f)[1] for f in WORKER_FILES)
    ui_raw, ui_gz = sizes(STATIC / "search-ui.js")
    qfile = work / f"queries-{n}.json"
    qfile.write_text(json.dumps(queries(site)))
    node = subprocess.run(["node", str(HERE / "search_bench.js"), str(STATIC), str(site), str(qfile)],
                          capture_output=True, text=True, check=True)
    timing = json.loads(node.stdout)
    return {"n": n, "build_s": built, "meta": (meta_raw, meta_gz), "abstracts": (abs_raw, abs_gz),
            "code": (code_raw, code_gz), "ui": (ui_raw, ui_gz), **timing}


def kb(b: int) -> str:
    return f"{b / 1024:,.0f} KB"


def main() -> None:
    ns = bench_sizes(__doc__)
    work = default_work()
    work.mkdir(parents=True, exist_ok=True)
    print(f"search benchmark, {os.cpu_count()} cores, node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}")
    for n in ns:
        r = bench(n, work)
        first = r["code"][1] + r["meta"][1]
        print(f"\nN = {n:,} papers (build {r['build_s']:.1f} s)")
        print(f"  tier 1 meta.json       {kb(r['meta'][0]):>10} raw {kb(r['meta'][1]):>9} gzip  ({r['meta'][1] / n:,.0f} B/paper gzip)")
        print(f"  tier 2 abstracts.json  {kb(r['abstracts'][0]):>10} raw {kb(r['abstracts'][1]):>9} gzip  ({r['abstracts'][1] / n:,.0f} B/paper gzip)")
        print(f"  worker code            {kb(r['code'][0]):>10} raw {kb(r['code'][1]):>9} gzip  (+ search-ui.js {kb(r['ui'][1])} gzip on every page)")
        print(f"  bytes before the first result: {kb(first)} gzip (worker code + tier 1)")
        print(f"  index load (median of 5): tier 1 {r['load_tier1_ms']:.0f} ms, tier 2 {r['load_tier2_ms']:.0f} ms")
        print(f"  queries ({r['queries']}): tier 1 p50 {r['tier1_p50_ms']:.1f} ms p95 {r['tier1_p95_ms']:.1f} ms;"
              f" both tiers p50 {r['tier2_p50_ms']:.1f} ms p95 {r['tier2_p95_ms']:.1f} ms max {r['tier2_max_ms']:.0f} ms")


if __name__ == "__main__":
    main()
