#!/usr/bin/env python3
"""Related-papers budget: time and peak memory of `related_papers` on synthetic catalogues.

    python benchmarks/related_bench.py [N ...]        (default: 1000 10000)

For each N: generates a synthetic catalogue (benchmarks/make_catalogue.py) under
$BENCH_WORK/related-N (default: $TMPDIR/papercat-bench/related-N, the folder of bench.py's
--work) unless it is already there, loads it, then prints the median wall time of
`generator.related.related_papers` over a few runs, a breakdown by stage (tokenise + TF-IDF,
top-k, reasons) and the peak memory the call allocates (tracemalloc, measured in a separate
run: tracing slows Python down).
CPU time includes the similarity threads. Prints figures; asserts nothing.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from make_catalogue import bench_sizes, default_work, generate  # noqa: E402

from generator import related  # noqa: E402
from generator.build import Project, load_catalogue  # noqa: E402


def say(text: str = "") -> None:
    print(text, flush=True)  # noqa: T201


def catalogue(n: int, work: Path):
    root = work / f"related-{n}"
    papers = root / "content" / "papers"
    if not papers.is_dir() or sum(1 for _ in papers.iterdir()) != n:
        generate(n, root)
    loaded, _ = load_catalogue(Project(root, root / "content", REPO / "templates", root / "site"))
    return loaded.papers


def timed(fn, *args):
    started = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - started


def bench(n: int, work: Path, runs: int) -> None:
    papers = catalogue(n, work)
    totals, cpu = [], []
    for _ in range(runs):
        started = time.process_time()
        result, seconds = timed(related.related_papers, papers)
        totals.append(seconds)
        cpu.append(time.process_time() - started)
    vectors, t_vec = timed(related.vectorise, papers)
    found, t_top = timed(related.top_k, vectors.matrix, related.K + related.EXTRA)
    rows, cols, _ = found.first(related.K)
    _, t_why = timed(related._reasons, vectors, rows, cols)
    tracemalloc.start()
    related.related_papers(papers)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    matrix = vectors.matrix
    linked = sum(1 for items in result.values() if items)
    say(f"\nN = {n:,} papers: {matrix.shape[1]:,} terms, {matrix.nnz / n:.0f} per paper")
    say(
        f"  related_papers: median {statistics.median(totals):.2f} s of {runs} "
        f"(min {min(totals):.2f} s, max {max(totals):.2f} s); CPU median {statistics.median(cpu):.2f} s"
    )
    say(f"  stages (one run): vectorise {t_vec:.2f} s, top-k {t_top:.2f} s, reasons {t_why:.2f} s")
    say(f"  peak memory allocated (tracemalloc): {peak / 2**20:,.0f} MiB")
    say(f"  papers with at least one related paper: {linked:,} of {n:,}")
    sample = next(iter(result.items()))
    say(f"  e.g. {sample[0]}:")
    for other, score, terms in sample[1][:3]:
        say(f"    {score:.4f} {other[:56]}  ({related.reason_text(terms)})")


def main() -> None:
    ns = bench_sizes(__doc__)
    work = default_work()
    work.mkdir(parents=True, exist_ok=True)
    import numpy
    import scipy

    say(
        f"related-papers benchmark, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"numpy {numpy.__version__}, scipy {scipy.__version__}"
    )
    say(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for n in ns:
        bench(n, work, runs=5 if n <= 2000 else 3)
    say(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
