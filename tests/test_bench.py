"""`make bench` runs end to end on a small catalogue (it prints figures; no timing is asserted)."""

from __future__ import annotations

import json
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
