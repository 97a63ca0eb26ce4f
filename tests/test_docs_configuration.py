"""docs/configuration.md lists every setting of `domain.settings.Settings`, with its default.

A new setting without a row here fails the suite, and so does a row for a setting that is gone.
"""

from __future__ import annotations

import re

from pydantic.fields import FieldInfo

from domain.settings import Settings
from tests.support.markdown_docs import ROOT, Table, load

CONFIGURATION = ROOT / "docs" / "configuration.md"


def variable(name: str, info: FieldInfo) -> str:
    """The environment variable of a settings field (its alias, else its upper-cased name)."""
    return info.alias or name.upper()


def settings_variables() -> dict[str, FieldInfo]:
    return {variable(name, info): info for name, info in Settings.model_fields.items()}


def one_table(title: str) -> Table:
    tables = load(CONFIGURATION).tables_under(title)
    assert len(tables) == 1, f"one table under '{title}' in configuration.md"
    return tables[0]


def rows_by_variable(table: Table) -> dict[str, dict[str, str]]:
    header = [cell.text for cell in table.header]
    out: dict[str, dict[str, str]] = {}
    for row in table.rows:
        names = row[0].code
        assert len(names) == 1, f"one variable per row: {row[0].text!r}"
        assert names[0] not in out, f"{names[0]} has two rows"
        out[names[0]] = {h: c.text for h, c in zip(header, row, strict=True)}
        if "default" in header:
            out[names[0]]["default code"] = " ".join(row[header.index("default")].code)
    return out


def test_the_table_lists_exactly_the_settings() -> None:
    documented = set(rows_by_variable(one_table("Settings")))
    actual = set(settings_variables())
    assert sorted(actual - documented) == [], "settings without a row in docs/configuration.md"
    assert sorted(documented - actual) == [], "rows for variables Settings does not have"


def written_default(info: FieldInfo) -> str | None:
    """How a plain default (number, flag, word) must appear in the default column, if any."""
    value = info.default
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float) or (isinstance(value, str) and value):
        return str(value)
    return None  # None, empty or derived: described in words


def test_documented_defaults_are_the_real_ones() -> None:
    rows = rows_by_variable(one_table("Settings"))
    wrong = []
    for name, info in settings_variables().items():
        expected = written_default(info)
        row = rows[name]
        assert row["default"] and row["meaning"], f"{name}: default and meaning are filled in"
        if expected is not None and expected not in row["default code"].split():
            wrong.append(f"{name}: documented {row['default']!r}, the code says {expected}")
    assert wrong == []


def test_the_data_dir_is_named_by_its_alias() -> None:
    assert "BILLING_DATA_DIR" in settings_variables()
    assert "DATA_DIR" not in settings_variables()


def test_other_variables_are_not_settings_and_are_really_read() -> None:
    others = rows_by_variable(one_table("Other environment variables"))
    assert set(others).isdisjoint(settings_variables()), "a setting belongs in the Settings table"
    source = "\n".join(
        p.read_text() for d in ("ingest", "workers", "domain") for p in (ROOT / d).rglob("*.py")
    )
    unread = [name for name in others if not re.search(rf"[\"']{name}[\"']", source)]
    assert unread == [], "documented variables no code reads"
