"""The ops CLI through typer's CliRunner: tables, --json, --dry-run, confirmation, errors."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
import structlog
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.ops.support import FIXED, Published, dead_letters, runtime_with, store
from tests.support.db import effects, statuses
from workers.cli import cli
from workers.ops_cli import render
from workers.ops_cli.render import ReplayService
from workers.processor import process_events
from workers.runtime import Runtime


@pytest.fixture
def rt(db: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Runtime, Published]]:
    """A one-attempt runtime; the CLI's service publishes into a list instead of Celery."""
    # Unconfigured structlog prints to stdout, which would mix logs into the JSON output.
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.stdlib.LoggerFactory())
    published = Published()
    with runtime_with(1) as runtime:
        monkeypatch.setattr(render, "make_service", lambda: ReplayService(db, published))
        monkeypatch.setattr(render, "engine", lambda: db)
        for module in ("dead_letters", "events", "stats"):
            monkeypatch.setattr(f"workers.ops_cli.{module}.engine", lambda: db, raising=False)
            monkeypatch.setattr(
                f"workers.ops_cli.{module}.make_service",
                lambda: ReplayService(db, published),
                raising=False,
            )
        yield runtime, published
    structlog.configure(**saved)


def invoke(*args: str, input: str | None = None) -> tuple[int, str]:
    """Exit code and stdout (JSON and tables; prompts and warnings go to stderr)."""
    result = CliRunner().invoke(cli, list(args), input=input)
    return result.exit_code, result.stdout


def test_list_and_show_dead_letters_as_table_and_json(rt: tuple[Runtime, Published]) -> None:
    runtime, _ = rt
    [event_id] = dead_letters(runtime, 1)
    code, output = invoke("dead-letters", "list")
    assert code == 0 and event_id in output and "HandlerFailure" in output
    code, output = invoke("dead-letters", "list", "--json", "--type", "test.fixable")
    [row] = orjson.loads(output)
    assert row["event_id"] == event_id and row["attempts"] == 1
    assert orjson.loads(invoke("dead-letters", "list", "--json", "--type", "x")[1]) == []
    code, output = invoke("dead-letters", "show", "1")
    assert code == 0 and "traceback" in output and "attempt history" in output
    code, output = invoke("dead-letters", "show", event_id, "--json")
    detail = orjson.loads(output)
    assert detail["attempt_history"][0]["error_type"] == "HandlerFailure"
    assert "raw_body" not in detail["event"]
    assert invoke("dead-letters", "show", "999")[0] == 1


def test_dry_run_changes_nothing_then_replay_with_reason_is_audited(
    rt: tuple[Runtime, Published], db: Engine
) -> None:
    runtime, published = rt
    ids = dead_letters(runtime, 3)
    code, output = invoke("dead-letters", "replay", "--all", "--dry-run", "--json")
    assert code == 0 and orjson.loads(output)["by_type"] == {"test.fixable": 3}
    assert statuses(db) == {"dead": 3} and published.ids == []
    code, output = invoke("dead-letters", "replay", "--all", input="n\n")
    assert code == 1 and statuses(db) == {"dead": 3}
    code, output = invoke("dead-letters", "replay", "--type", "test.fixable", "--reason", "fix")
    assert code == 1  # no --yes and no terminal answer: aborted
    code, output = invoke(
        "dead-letters", "replay", "--type", "test.fixable", "--yes", "--reason", "deploy 42"
    )
    assert code == 0 and "replayed 3" in output
    assert sorted(published.ids) == sorted(ids)
    process_events(runtime, published.ids, FIXED)
    assert effects(db) == 3
    code, output = invoke("events", "show", ids[0])
    assert code == 0 and "deploy 42" in output and "processed" in output


def test_replay_needs_a_selector_and_reports_unknown_ids(rt: tuple[Runtime, Published]) -> None:
    result = CliRunner().invoke(cli, ["dead-letters", "replay"])
    assert result.exit_code == 2 and "--all" in result.output
    code, output = invoke("dead-letters", "replay", "42", "--json")
    assert code == 1 and orjson.loads(output)["skipped"] == {"42": "no such dead letter"}
    assert invoke("dead-letters", "list", "--since", "yesterday")[0] == 2


def test_events_list_show_and_forced_replay(rt: tuple[Runtime, Published], db: Engine) -> None:
    runtime, published = rt
    [event_id] = store(runtime)
    process_events(runtime, [event_id], FIXED)
    code, output = invoke("events", "list", "--status", "processed")
    assert code == 0 and event_id in output
    rows = orjson.loads(invoke("events", "list", "--json", "--since", "1h")[1])
    assert [r["event_id"] for r in rows] == [event_id]
    code, output = invoke("events", "replay", event_id)
    assert code == 1 and "force" in output and published.ids == []
    code, output = invoke("events", "replay", event_id, "--force", "--json")
    assert code == 0 and orjson.loads(output)["replayed"] == [event_id]
    assert statuses(db) == {"queued": 1}


def test_stats_table_and_json(rt: tuple[Runtime, Published]) -> None:
    runtime, _ = rt
    dead_letters(runtime, 2)
    store(runtime, 1)
    code, output = invoke("stats")
    assert code == 0 and "HandlerFailure" in output and "backlog" in output
    snap = orjson.loads(invoke("stats", "--json")[1])
    assert snap["dead_letters"] == 2 and snap["backlog"]["received"] == 1
    assert snap["by_type"]["test.fixable"] == {"dead": 2, "received": 1}
    assert snap["oldest_unprocessed_age_seconds"] >= 0
