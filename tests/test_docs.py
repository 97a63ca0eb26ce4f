"""The documentation holds together: links and anchors resolve, every doc is on the README's
map, the README's commands are the ones CI runs, and the tests the docs cite exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.markdown_docs import (
    ROOT,
    Doc,
    broken_links,
    code_spans,
    load,
    parse,
    project_docs,
    unique_slugs,
)

DOCS = project_docs()


def test_slugs_follow_githubs_rules() -> None:
    titles = [
        "How an event flows",
        "Guarantees (each has a test that would fail if it broke)",
        "`GET /v1/accounts/{account_ref}/payment-methods`",
        'Runbook 1: "payments stopped syncing"',
        "Settings",
        "Settings",
        "Ordering rule and tie rule",
        "Settings-1",
        "Ünïcode — dash",
    ]
    assert unique_slugs(titles) == [
        "how-an-event-flows",
        "guarantees-each-has-a-test-that-would-fail-if-it-broke",
        "get-v1accountsaccount_refpayment-methods",
        "runbook-1-payments-stopped-syncing",
        "settings",
        "settings-1",
        "ordering-rule-and-tie-rule",
        "settings-1-1",
        "ünïcode--dash",
    ]


def test_the_checker_reports_missing_files_and_anchors(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.md").write_text("# B\n\n## Real `heading`\n\n## Real heading\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    source = tmp_path / "docs" / "a.md"
    source.write_text(
        "# A\n\n## Here\n\n"
        "[ok](b.md#real-heading) [ok](b.md#real-heading-1) [ok](#here) [ok](../code.py)\n"
        "[ok](https://example.com/x#y) [ok](b.md)\n\n"
        "[gone](missing.md) [bad](b.md#nowhere) [self](#there) [py](../code.py#L1)\n"
        "[out](../../outside.md)\n\n"
        "```\n[in a code block](nothing.md)\n```\n\n`[in a code span](nothing.md)`\n"
    )
    problems = broken_links(source, root=tmp_path)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "missing.md: no such file",
        "b.md#nowhere: no heading with anchor #nowhere in b.md",
        "#there: no heading with anchor #there in a.md",
        "../code.py#L1: an anchor into a file that is not Markdown",
        "../../outside.md: points outside the repository",
    ]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(path: Path) -> None:
    assert broken_links(path) == []


def test_the_readme_maps_every_doc() -> None:
    linked = {
        (ROOT / link.target.partition("#")[0]).resolve()
        for link in load(ROOT / "README.md").links
        if link.target.startswith("docs/")
    }
    missing = [p.name for p in sorted((ROOT / "docs").glob("*.md")) if p.resolve() not in linked]
    assert missing == [], "add a line for each to the README's documentation map"


def _sh_blocks(path: Path) -> list[str]:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    return [t.content for t in tokens if t.type == "fence" and t.info.strip() == "sh"]


def _commands(block: str) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_the_readme_commands_are_the_ones_ci_runs() -> None:
    blocks = [c for block in _sh_blocks(ROOT / "README.md") for c in _commands(block)]
    run = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/billing dev"
    test = "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/pytest"
    assert run in blocks and test in blocks
    ci = (ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/python -m pip install -q -e '.[dev]'" in ci
    # The README's command, then the same suite's PgBouncer subset (docs/testing.md).
    assert ci.rstrip().splitlines()[-4:] == [
        test.rsplit(" && ", 1)[1],
        "",
        'say "tests through PgBouncer in transaction mode (the subset of docs/testing.md)"',
        "TEST_VIA_PGBOUNCER=1 .venv/bin/pytest -n 0",
    ]


# `tests/x/test_a.py`, `test_a.py::test_b`, or `::test_b` (a test of the file named just before).
_TEST_REF = re.compile(r"^(?:((?:tests/)?(?:\w+/)*test_\w+\.py))?(?:::(test_\w+))?$")


def _test_files() -> dict[str, list[Path]]:
    by_suffix: dict[str, list[Path]] = {}
    for path in (ROOT / "tests").rglob("test_*.py"):
        parts = path.relative_to(ROOT).parts
        for i in range(len(parts)):
            by_suffix.setdefault("/".join(parts[i:]), []).append(path)
    return by_suffix


def cited_tests(doc: Doc) -> list[tuple[str, str | None]]:
    """(file, test name) pairs cited in code spans; `::name` continues the last file cited."""
    cited = []
    for inline in doc.inlines:
        last: str | None = None
        for span in code_spans(inline):
            match = _TEST_REF.match(span)
            if not match or not any(match.groups()):
                continue
            last = match.group(1) or last
            assert last is not None, f"{doc.path.name}: `{span}` names no file before it"
            cited.append((last, match.group(2)))
    return cited


def missing_tests(doc: Doc) -> list[str]:
    """Cited test files that do not exist (or are ambiguous) and cited tests they lack."""
    files = _test_files()
    missing = []
    for file, name in cited_tests(doc):
        found = files.get(file.removeprefix("tests/"), [])
        if len(found) != 1:
            missing.append(f"{file} ({len(found)} files match)")
        elif name and not re.search(rf"^(async )?def {name}\(", found[0].read_text(), re.M):
            missing.append(f"{file}::{name}")
    return missing


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_cited_tests_exist(path: Path) -> None:
    assert missing_tests(load(path)) == []


def test_citations_are_checked_with_their_file() -> None:
    text = (
        "| 1 | `test_docs.py::test_cited_tests_exist`, `::test_no_such_test` |\n"
        "`tests/test_docs.py` `test_nowhere.py::test_x`\n"
        "`test_docs.py::test_slugs_follow_githubs_rules`\n"
    )
    doc = parse(text, ROOT / "example.md")
    assert missing_tests(doc) == [
        "test_docs.py::test_no_such_test",
        "test_nowhere.py (0 files match)",
    ]
