"""Rejected usage over the ops API and the CLI: list (filters, pages), audited replay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import structlog
from sqlalchemy import Engine, select
from starlette.testclient import TestClient
from typer.testing import CliRunner

from domain.models import ReplayAudit
from domain.settings import load_settings
from domain.types import utcnow
from domain.usage.records import UsageRecord
from ingest.app import create_app
from tests.support.env import API_TOKEN
from workers.cli import cli
from workers.runtime import build_runtime

READER = "reader-token-0123456789abcdef"
OPS = {"Authorization": f"Bearer {API_TOKEN}"}
REJECTED = "/v1/ops/usage/rejected"
REPLAY = "/v1/ops/usage/replay"


@pytest.fixture
def client(db: Engine, broker: object) -> Iterator[TestClient]:
    settings = load_settings(api_tokens=f"tester:{API_TOKEN}:ops,reader:{READER}:read")
    with TestClient(create_app(settings, publish=lambda ids: None)) as c:
        yield c


def add(db: Engine, rid: str, account: str, meter: str, status: str, reason: str | None, k: int):
    now = utcnow()
    from sqlalchemy.orm import Session

    with Session(db) as s, s.begin():
        s.add(
            UsageRecord(
                id=rid,
                account_ref=account,
                meter=meter,
                quantity=k + 1,
                occurred_at=now - timedelta(hours=2),
                source="usage",
                received_at=now - timedelta(hours=2),
                report_status=status,
                reported_at=now - timedelta(minutes=60 - k),  # later k: rejected later
                report_id="usg_x" if status != "rejected" else None,
                report_error=reason,
            )
        )


@pytest.fixture
def records(db: Engine) -> None:
    meter_missing = "invalid_request_error billing_meter_not_found: No such meter"
    add(db, "u1", "acct_a", "api_calls", "rejected", "too_old", 1)
    add(db, "u2", "acct_a", "api_calls", "rejected", meter_missing, 2)
    add(db, "u3", "acct_b", "api_calls", "rejected", "no_stripe_customer", 3)
    add(db, "u4", "acct_b", "storage", "rejected", meter_missing, 4)
    add(db, "u5", "acct_b", "storage", "rejected", "too_old", 5)
    add(db, "ok1", "acct_a", "api_calls", "reported", None, 6)


def status_of(db: Engine) -> dict[str, tuple[str, str | None, str | None]]:
    with db.connect() as conn:
        rows = conn.execute(
            select(
                UsageRecord.id,
                UsageRecord.report_status,
                UsageRecord.report_error,
                UsageRecord.report_id,
            )
        ).all()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def audits(db: Engine) -> list[ReplayAudit]:
    from sqlalchemy.orm import Session

    with Session(db) as s:
        return list(s.scalars(select(ReplayAudit).order_by(ReplayAudit.id)))


def test_routes_need_the_ops_scope(client: TestClient) -> None:
    for method, path in (("GET", REJECTED), ("POST", REPLAY)):
        assert client.request(method, path).status_code == 401
        reader = {"Authorization": f"Bearer {READER}"}
        assert client.request(method, path, headers=reader).status_code == 403


def test_list_filters_and_pages_newest_first(client: TestClient, records: None) -> None:
    body = client.get(REJECTED, headers=OPS).json()
    assert [r["id"] for r in body["data"]] == ["u5", "u4", "u3", "u2", "u1"]
    assert body["data"][0]["reason"] == "too_old" and body["data"][0]["quantity"] == 6
    assert body["next_cursor"] is None

    def ids(**params: object) -> list[str]:
        return [r["id"] for r in client.get(REJECTED, params=params, headers=OPS).json()["data"]]

    assert ids(account_ref="acct_a") == ["u2", "u1"]
    assert ids(meter="storage") == ["u5", "u4"]
    assert ids(reason_contains="METER_NOT_FOUND") == ["u4", "u2"]  # any case
    assert ids(account_ref="acct_b", reason_contains="too_old") == ["u5"]
    assert ids(reason_contains="%") == []  # a literal, not a wildcard
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(REJECTED, params=params, headers=OPS).json()
        seen += [r["id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["u5", "u4", "u3", "u2", "u1"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "x"},
        {"cursor": "not-a-cursor"},
        {"meter": "m" * 101},
        {"account_ref": "a\x00b"},
        {"reason_contains": "r" * 256},
        {"unknown": "1"},
    ],
)
def test_bad_list_queries_get_422(client: TestClient, params: dict[str, str]) -> None:
    response = client.get(REJECTED, params=params, headers=OPS)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request" and response.json()["fields"]


@pytest.mark.parametrize(
    "body",
    [
        {"ids": ["u1"]},  # no reason
        {"ids": ["u1"], "reason": ""},
        {"reason": "fixed"},  # nothing selected
        {"reason": "fixed", "ids": ["u1"], "meter": "api_calls"},  # ids and a filter
        {"reason": "fixed", "ids": ["u1"], "all": True},
        {"reason": "fixed", "all": True, "extra": 1},
        {"reason": "fixed", "ids": ["x" * 256]},
        {"reason": "fixed", "ids": "u1"},
    ],
)
def test_bad_replays_get_422_and_change_nothing(
    client: TestClient, db: Engine, records: None, body: dict[str, object]
) -> None:
    before = status_of(db)
    response = client.post(REPLAY, json=body, headers=OPS)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"
    assert status_of(db) == before and audits(db) == []
    assert client.post(REPLAY, content=b"{not json", headers=OPS).status_code == 400


def test_replay_is_a_dry_run_first_then_audited(
    client: TestClient, db: Engine, records: None
) -> None:
    before = status_of(db)
    dry = client.post(REPLAY, json={"reason": "meter created", "meter": "storage"}, headers=OPS)
    assert dry.status_code == 200, dry.text
    assert dry.json() == {
        "dry_run": True,
        "count": 2,
        "by_meter": {"storage": 2},
        "audit_id": None,
        "record_ids": ["u4", "u5"],
        "skipped": {},
    }
    assert status_of(db) == before and audits(db) == []

    body = {"reason": "meter created", "reason_contains": "meter_not_found", "dry_run": False}
    done = client.post(REPLAY, json=body, headers=OPS).json()
    assert done["count"] == 2 and done["by_meter"] == {"api_calls": 1, "storage": 1}
    assert done["record_ids"] == ["u2", "u4"] and done["audit_id"] is not None
    after = status_of(db)
    assert after["u2"] == ("pending", None, None) and after["u4"] == ("pending", None, None)
    assert after["u1"] == before["u1"] and after["ok1"] == before["ok1"]
    [audit] = audits(db)
    assert (audit.id, audit.actor, audit.via, audit.action) == (
        done["audit_id"],
        "tester",
        "api",
        "usage.replay",
    )
    assert audit.reason == "meter created" and audit.event_count == 2
    assert "meter_not_found" in audit.selector

    # By ids: what is not rejected is skipped with why; a replay that changes nothing is
    # not audited.
    body = {"reason": "again", "ids": ["u2", "u3", "ok1", "nope"], "dry_run": False}
    again = client.post(REPLAY, json=body, headers=OPS).json()
    assert again["count"] == 1 and again["record_ids"] == ["u3"]
    assert again["skipped"] == {
        "u2": "pending; only rejected usage replays",
        "ok1": "reported; only rejected usage replays",
        "nope": "no such usage record",
    }
    body = {"reason": "again", "ids": ["u3"], "dry_run": False}
    assert client.post(REPLAY, json=body, headers=OPS).json()["count"] == 0
    assert len(audits(db)) == 2

    everything = client.post(REPLAY, json={"reason": "all", "all": True}, headers=OPS).json()
    assert everything["count"] == 2 and everything["dry_run"] is True  # u1, u5


def test_the_cli_replays_through_the_same_audited_service(
    db: Engine, broker: object, records: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = build_runtime(load_settings())
    monkeypatch.setattr("workers.runtime.get_runtime", lambda: rt)
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.stdlib.LoggerFactory())
    try:
        runner = CliRunner()
        dry = runner.invoke(cli, ["usage", "replay", "--account", "acct_b", "--dry-run"])
        assert dry.exit_code == 0 and "would replay 3" in dry.stdout
        assert audits(db) == []
        done = runner.invoke(
            cli, ["usage", "replay", "--meter", "storage", "--reason", "fixed", "--yes"]
        )
        assert done.exit_code == 0 and "replayed 2" in done.stdout, done.stdout
        [audit] = audits(db)
        assert (audit.via, audit.action, audit.reason, audit.event_count) == (
            "cli",
            "usage.replay",
            "fixed",
            2,
        )
        none = runner.invoke(cli, ["usage", "replay", "--meter", "storage"])
        assert none.exit_code == 0 and "nothing matches" in none.stdout and len(audits(db)) == 1
        dead = runner.invoke(cli, ["usage", "dead", "--reason-contains", "too_old", "--json"])
        assert dead.exit_code == 0 and '"u1"' in dead.stdout and '"u5"' not in dead.stdout
    finally:
        structlog.configure(**saved)
        rt.engine.dispose()
