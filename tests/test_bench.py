"""`make bench` runs end to end on a small catalogue (it prints figures; no timing is asserted)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from .conftest import REPO


def test_the_benchmark_runs_and_finds_incremental_builds_identical_to_clean_ones(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/bench.py",
            "--sizes",
            "100",
            "--runs",
            "1",
            "--no-hugo",
            "--work",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for label in (
        "cold build",
        "no-change rebuild",
        "one-edit rebuild",
        "one edit, in serve",
        "stages, cold",
    ):
        assert label in out
    assert "edited site byte-identical to a clean build: yes, after the edits in serve: yes" in out
    figures = json.loads((tmp_path / "results.json").read_text())["sizes"]["100"]["papercat"]
    assert figures["edit_identical_to_clean"] is True and figures["serve_edit_identical_to_clean"] is True
    assert figures["output_files"] > 300  # pages, .bib files, feeds, index, static files
    assert figures["no_change"]["median"] > 0 and figures["cold"]["peak_mib"] > 0
    assert "render + write paper pages" in figures["cold"]["stages"]
    assert figures["serve_edit"]["median"] > 0 and "write" in figures["serve_edit"]["stages"]
    original = sorted((tmp_path / "catalogue-100" / "content" / "papers").glob("*.md"))
    assert len(original) == 100 and "Benchmark edit" not in "".join(p.read_text() for p in original)
    pages = (tmp_path / "catalogue-100" / "site" / "papers").rglob("index.html")
    assert "Benchmark edit" not in "".join(p.read_text() for p in pages)  # built again, as restored
    run = json.loads((tmp_path / "results.json").read_text())
    assert run["runs"] == 1 and run["commit"] and re.fullmatch(r"\d\d:\d\d UTC", run["started"])
    assert f"commit {run['commit']}" in out.splitlines()[0]
    assert run["load_average"] >= 0 and f"load average at the start: {run['load_average']:.2f}" in out
    # the old outputs went aside, to be deleted only when the benchmark ended: none is left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalogue-100", "results.json"]
    assert sorted(p.name for p in (tmp_path / "catalogue-100").iterdir()) == [
        ".cache",
        ".generated",
        ".site.spare",
        "content",
        "site",
        "templates",
    ]


def test_each_cold_build_is_paired_with_the_hugo_build_that_follows_it(tmp_path):
    """With `hugo` installed, its builds alternate with papercat's cold builds (the warm-ups
    too), so that the ratio of each pair is taken in the same minute: a stand-in `hugo` notes
    whether papercat has just made its site from nothing each time it builds."""
    import os

    fake = tmp_path / "bin" / "hugo"
    fake.parent.mkdir()
    log = tmp_path / "hugo-calls.txt"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        "  --quiet) mkdir -p public && sleep 0.2\n"
        # right after a cold build: papercat's site, and no spare tree yet (a rebuild makes one)
        f"    if [ -d ../site ] && [ ! -e ../.site.spare ]; then echo after-cold >> {log};"
        f" else echo elsewhere >> {log}; fi ;;\n"
        "  version) echo hugo v0.0.0-stand-in ;;\n"
        "  *) exit 1 ;;\n"  # `hugo server`: not there
        "esac\n"
    )
    fake.chmod(0o755)
    work = tmp_path / "work"
    result = subprocess.run(
        [sys.executable, "benchmarks/bench.py", "--sizes", "100", "--runs", "2", "--work", str(work)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PATH": f"{fake.parent}:{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.stderr
    assert log.read_text().split() == ["after-cold"] * 3  # the warm-up's and two rounds'
    figures = json.loads((work / "results.json").read_text())["sizes"]["100"]
    ratios, cold = figures["papercat"]["cold_ratios"], figures["papercat"]["cold"]
    assert len(ratios) == 2 and all(r > 0 for r in ratios)
    hugo = figures["hugo"]
    assert hugo["min"] >= 0.2  # the stand-in's builds, timed as papercat's are
    for ratio in ratios:  # each a cold build's time over a Hugo build's
        assert cold["min"] / hugo["max"] - 1e-9 <= ratio <= cold["max"] / hugo["min"] + 1e-9
    assert hugo["server_edit"] is None and "stand-in" in hugo["version"]
    assert f"round by round {min(ratios):.2f}-{max(ratios):.2f}x" in result.stdout
    serve_over_build = figures["papercat"]["serve_edit"]["median"] / hugo["median"]
    assert f"one edit in serve {serve_over_build:.2f}x" in result.stdout  # the README table's bracket
