"""Shared fixtures: inline mini-catalogues in tmp_path, and tool lookups for node/chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import textwrap
import threading
import time
from pathlib import Path

# Before numpy loads: OpenBLAS's threads spin while they wait for work, and the tests' dense
# products (test_related) then took twice their time in CPU from the other test worker.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# A test run started in the background (`make test &`) ignores Ctrl-C, and so would the builds
# and servers that tests start and then stop with it (sh cannot even trap it): give it back.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import pytest

from generator.build import Project

REPO = Path(__file__).resolve().parent.parent
# The catalogue the project started with (70 papers), frozen: tests that need real papers use
# it, not content/, which curators (and groups forking the project) change at will.
SEED = REPO / "tests" / "fixtures" / "seed"

SITE_YML = """\
title: "Test Catalogue"
description: "Papers for tests."
base_url: "https://example.org/cat/"
language: "en"
"""

TOPICS_YML = """\
- slug: fine-tuning
  name: "Fine-tuning"
  description: "Adapting pre-trained models."
  keywords: ["fine-tuning|finetuning", "supervised fine-tuning|sft"]
- slug: instruction-tuning
  name: "Instruction tuning"
  description: "Teaching models to follow instructions."
  keywords: ["instruction tuning|instruction-tuning|instruction-tuned"]
- slug: parameter-efficient-fine-tuning
  name: "Parameter-efficient fine-tuning"
  description: "Training few parameters."
  keywords: ["lora|low-rank adaptation", "adapters|adapter", "peft|parameter-efficient"]
"""


def paper_text(
    title="A Paper About Things",
    *,
    topics='["fine-tuning"]',
    tags="[]",
    added='"2024-05-01"',
    extra="",
    body="An abstract that says something.",
) -> str:
    """A valid paper file; keyword arguments override fields, `extra` adds lines."""
    lines = [
        "---",
        f"title: {title!r}".replace("'", '"') if '"' not in title else f"title: '{title}'",
        'authors: ["Ada Lovelace", "Alan Turing"]',
        f"added: {added}",
        f"topics: {topics}",
        f"tags: {tags}",
    ]
    if extra:
        lines.append(textwrap.dedent(extra).strip("\n"))
    return "\n".join(lines) + "\n---\n\n" + body + "\n"


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write {relative path: text} below root."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def make_project(tmp_path):
    """A project in tmp_path using the repository's templates; papers as {slug: text}."""

    def make(papers: dict[str, str], site: str = SITE_YML, topics: str = TOPICS_YML) -> Project:
        files = {"content/site.yml": site, "content/topics.yml": topics}
        files.update({f"content/papers/{slug}.md": text for slug, text in papers.items()})
        write_tree(tmp_path, files)
        return Project(tmp_path, tmp_path / "content", REPO / "templates", tmp_path / "site")

    return make


DEBIAN_PACKAGES = {"node": "nodejs"}  # the package of a tool, where its name differs


def require_tool(name: str, *alternatives: str) -> str:
    """Path of an external tool; skip locally when missing, but fail in CI (CI=true)."""
    for candidate in (name, *alternatives):
        path = shutil.which(candidate)
        if path:
            return path
    if os.environ.get("CI"):
        pytest.fail(f"{name} is required in CI but was not found; .ci/run installs it")
    package = DEBIAN_PACKAGES.get(name, name)
    pytest.skip(f"{name} not installed (apt-get install {package}); CI runs this test")


@contextlib.contextmanager
def serving(project: Project):
    """`generator serve` for a project, in a thread on a free port; yields its base URL."""
    from generator.serve import serve

    ready, stop = threading.Event(), threading.Event()
    before = threading.active_count()
    thread = threading.Thread(
        target=serve, kwargs=dict(project=project, port=0, ready=ready, stop=stop), daemon=True
    )
    thread.start()
    assert ready.wait(30)
    try:
        yield f"http://127.0.0.1:{ready.port}"
    finally:
        stop.set()
        thread.join(10)
        deadline = time.monotonic() + 10  # its event streams and readers end too: later tests
        while threading.active_count() > before and time.monotonic() < deadline:  # may fork
            time.sleep(0.05)


# Queries that must never break search: lunr operators, junk, injection attempts.
HOSTILE_QUERIES = [
    "title:",
    ":",
    "+",
    "-",
    "foo~",
    "foo^x",
    "~1",
    "http://x.org",
    "10:30",
    "C++",
    "C#",
    "*",
    "   ",
    "." * 500,
    "lora~100000",
    "<img src=x onerror=alert(1)>",
]
