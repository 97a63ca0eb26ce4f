"""RETENTION_DAYS' floor, `billing prune` and `billing events show --archive` through the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import structlog
from sqlalchemy import Engine
from typer.testing import CliRunner

from domain.models import EventStatus
from domain.settings import SettingsError, load_settings
from domain.types import utcnow
from tests.retention.support import Spec, event_ids, seed
from workers.cli import cli
from workers.prune import PruneConfig

P = EventStatus.PROCESSED


def test_retention_below_35_days_is_refused_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"RETENTION_DAYS: must be at least 35 \(got 34\)"):
        load_settings(retention_days=34)
    with pytest.raises(SettingsError, match="Stripe retries"):
        load_settings(retention_days=0)
    assert load_settings(retention_days=35).retention_days == 35
    assert load_settings().retention_days == 90
    assert load_settings().archive_dir is None
    assert load_settings(archive_dir="").archive_dir is None


def test_retention_from_the_environment_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETENTION_DAYS", "7")
    with pytest.raises(SettingsError, match="RETENTION_DAYS"):
        load_settings()


@pytest.fixture
def cli_env(db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI on the test database, archiving into tmp_path/archive."""
    archive = tmp_path / "archive"
    monkeypatch.setattr("workers.ops_cli.prune.engine", lambda: db)
    monkeypatch.setattr(
        "workers.ops_cli.prune.prune_config", lambda: PruneConfig(90, archive, 5000)
    )
    monkeypatch.setattr("workers.ops_cli.events.archive_dir", lambda: archive)
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.stdlib.LoggerFactory())
    yield archive
    structlog.configure(**saved)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout


def test_prune_dry_run_then_prune_then_show_from_the_archive(db: Engine, cli_env: Path) -> None:
    now = utcnow()
    old = seed(db, [Spec(P, 100), Spec(P, 100), Spec(EventStatus.DEAD, 100, 100)], now)
    recent = seed(db, [Spec(P, 3)], now)
    code, output = invoke("prune", "--dry-run", "--json")
    report = orjson.loads(output)
    assert code == 0 and report["dry_run"] is True and report["events"] == 2
    assert report["kept"]["dead"] == 1
    assert event_ids(db) == set(old) | set(recent)

    code, output = invoke("prune")
    assert code == 0 and "pruned 2 event(s)" in output and "archived 2" in output
    gone = [e for e, s in old.items() if s.status == P]
    assert not set(gone) & event_ids(db)

    code, output = invoke("events", "show", gone[0], "--archive", "--json")
    shown = orjson.loads(output)
    assert code == 0 and shown["event_id"] == gone[0] and shown["archived"] is True
    assert shown["payload_summary"]["object"] == "invoice"
    assert "raw_body" not in shown  # the payload only on --raw
    code, output = invoke("events", "show", gone[0], "--archive")
    assert code == 0 and "archive" in output and "invoice.paid" in output
    code, output = invoke("events", "show", gone[0], "--archive", "--raw")
    assert code == 0 and orjson.loads(output)["id"] == gone[0]
    code, _ = invoke("events", "show", "evt_never_seen", "--archive")
    assert code == 1
    code, _ = invoke("events", "show", gone[0], "--archive", "--day", "yesterday")
    assert code == 2
