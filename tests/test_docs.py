"""The README documents every front-matter field the schema declares."""

from generator.schema import FIELDS

from .conftest import REPO


def test_readme_table_covers_the_schema():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for field in FIELDS:
        row = f"| `{field.name}` | {'yes' if field.required else 'no'} | {field.help} |"
        assert row in readme, field.name


def test_every_make_command_the_docs_and_ci_mention_exists():
    import re

    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    texts = [
        REPO / "README.md",
        REPO / "CONTRIBUTING.md",
        REPO / ".github" / "PULL_REQUEST_TEMPLATE.md",
        *sorted((REPO / ".github" / "workflows").glob("*.yml")),
        *sorted((REPO / "generator").glob("*.py")),
    ]
    mentioned = {
        m
        for path in texts
        for m in re.findall(
            r"(?:`|^\s*|run: |CI=true )make ([a-z][a-z-]*)", path.read_text(encoding="utf-8"), re.M
        )
    }
    assert {"build", "test", "check", "serve"} <= mentioned
    assert mentioned <= targets, mentioned - targets


def test_a_missing_tool_s_skip_names_the_debian_package_to_install(monkeypatch):
    import pytest

    from . import conftest

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    with pytest.raises(pytest.skip.Exception, match=r"node not installed \(apt-get install nodejs\)"):
        conftest.require_tool("node")
    with pytest.raises(pytest.skip.Exception, match=r"\(apt-get install chromium\)"):
        conftest.require_tool("chromium", "google-chrome")
