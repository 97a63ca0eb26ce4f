"""docs/commands.md lists exactly the command types the API accepts (`domain.commands.PARAMS`)."""

from __future__ import annotations

from domain.commands.params import PARAMS
from tests.support.markdown_docs import ROOT, load


def documented_types() -> list[str]:
    """First-column names of the command types table; `.x` after `a.b` abbreviates `a.x`."""
    (table,) = load(ROOT / "docs" / "commands.md").tables_under("Command types and their params")
    names: list[str] = []
    for row in table.rows:
        for name in row[0].code:
            names.append(names[-1].rsplit(".", 1)[0] + name if name.startswith(".") else name)
    return names


def test_the_command_types_table_is_the_api() -> None:
    names = documented_types()
    assert len(names) == len(set(names))
    assert sorted(set(PARAMS) - set(names)) == [], "command types missing from docs/commands.md"
    assert sorted(set(names) - set(PARAMS)) == [], "documented command types the API refuses"
