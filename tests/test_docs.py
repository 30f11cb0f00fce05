"""The README documents every front-matter field the schema declares."""

from generator.schema import FIELDS

from .conftest import REPO


def test_readme_table_covers_the_schema():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for field in FIELDS:
        row = f"| `{field.name}` | {'yes' if field.required else 'no'} | {field.help} |"
        assert row in readme, field.name
