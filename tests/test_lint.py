"""The code stays lint-clean and formatted (ruff), so `make lint` never surprises anyone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import REPO, require_tool


def ruff() -> str:
    beside = Path(sys.executable).parent / "ruff"
    return str(beside) if beside.exists() else require_tool("ruff")


def test_ruff_check_is_clean():
    done = subprocess.run([ruff(), "check", "generator", "tests"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_ruff_format_is_clean():
    done = subprocess.run(
        [ruff(), "format", "--check", "generator", "tests"], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout
