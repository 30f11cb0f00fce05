"""GitHub workflows pass actionlint; issue forms are well-formed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import REPO, require_tool

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def actionlint() -> str:
    beside = Path(sys.executable).parent / "actionlint"
    return str(beside) if beside.exists() else require_tool("actionlint")


def test_workflows_pass_actionlint():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "deploy.yml"}
    done = subprocess.run(
        [actionlint(), "-no-color", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_really_lints():
    """Control: a broken workflow is rejected, so the test above can fail."""
    bad = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.evnt }}\n"
    done = subprocess.run(
        [actionlint(), "-no-color", "-"], input=bad, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0


def test_deploy_workflow_uses_pages_url_and_permissions():
    deploy = yaml.safe_load((REPO / ".github/workflows/deploy.yml").read_text())
    assert deploy["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert deploy["concurrency"]["group"] == "pages"
    steps = deploy["jobs"]["build"]["steps"]
    build = next(s for s in steps if "make build" in s.get("run", ""))
    assert "--base-url ${{ steps.pages.outputs.base_url }}/" in build["run"]
    uses = [s.get("uses", "") for job in deploy["jobs"].values() for s in job["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)


def test_issue_forms_are_valid_forms():
    forms = sorted((REPO / ".github" / "ISSUE_TEMPLATE").glob("*.yml"))
    names = set()
    for path in forms:
        data = yaml.safe_load(path.read_text())
        if path.name == "config.yml":
            continue
        names.add(data["name"])
        assert data["description"] and isinstance(data["body"], list)
        ids = [item["id"] for item in data["body"] if "id" in item]
        assert len(ids) == len(set(ids)), path.name
        assert any(item.get("validations", {}).get("required") for item in data["body"])
    assert names == {"Suggest a paper", "Correction"}
