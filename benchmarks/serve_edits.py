#!/usr/bin/env python3
"""Rebuild times after an edit in a long-lived process, as `serve` does them (bench.py runs this).

    python benchmarks/serve_edits.py ROOT PAPER RUNS

Builds ROOT once and once more unchanged (what `serve` does on start), then edits PAPER's
abstract RUNS + 1 times (the first is a warm-up), rebuilding after each with the same
`Warm` state that serve keeps; prints JSON: the build's own seconds and stages per edit, and
a digest of the site after the last edit (bench.py compares it with a clean build of the same
content). The paper is restored afterwards.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench import edit, tree_digest  # noqa: E402

from generator.build import Project, Warm, build  # noqa: E402


def main() -> None:
    root, paper, runs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    project, warm = Project.at(root), Warm()
    original = paper.read_text(encoding="utf-8")
    results = []
    try:
        build(project, warm=warm)
        build(project, warm=warm)
        for k in range(runs + 1):
            edit(paper, original, k)
            result = build(project, warm=warm)
            if k:
                results.append(
                    {"seconds": result.seconds, "stages": dict(result.stages), "rendered": result.rendered}
                )
        site = tree_digest(project.output)[0]  # of the last edit's content
    finally:
        paper.write_text(original, encoding="utf-8")
    print(json.dumps({"runs": results, "site_digest": site}))


if __name__ == "__main__":
    main()
