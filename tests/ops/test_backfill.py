"""Backfill against the fake Stripe's Events API: dedupe, interruption + resume, filters."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient
from typer.testing import CliRunner

from domain.ops import queries
from domain.settings import Settings
from ingest.app import create_app
from tests.ops.backfill_support import READER, emit, store_from_stripe
from tests.ops.support import FIXABLE, FIXED, Published, runtime_with
from tests.support.env import API_TOKEN
from tests.support.fake_stripe import FakeStripe
from workers.backfill import backfill_service
from workers.cli import cli
from workers.processor import process_events

OPS = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def published(
    stripe_settings: Settings, db: Engine, quiet_logs: None, monkeypatch: pytest.MonkeyPatch
) -> Published:
    """The CLI's backfill fetches from the fake Stripe and publishes into a list."""
    sink = Published()
    monkeypatch.setattr(
        "workers.ops_cli.backfill.make_backfill",
        lambda page_size: backfill_service(
            db, stripe_settings, sink, page_size=page_size, retry_delay=0.01
        ),
    )
    return sink


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["backfill", *args])
    return result.exit_code, result.stdout, result.stderr


def sources(db: Engine) -> dict[str, str]:
    with db.connect() as conn:
        return dict(conn.execute(text("SELECT event_id, source FROM stripe_events")).all())


def test_interrupted_backfill_resumes_and_adds_exactly_the_missing_events(
    fake: FakeStripe, published: Published, db: Engine
) -> None:
    ids = emit(fake, 10)
    had = ids[::3]  # 4 events whose webhooks did arrive, spread over the pages
    store_from_stripe(fake, db, had)
    missing = [i for i in ids if i not in had]

    # Page 1 of 4 (newest first, 3 per page), then stop as if interrupted.
    code, out, _ = invoke(
        "--since", "1h", "--page-size", "3", "--max-pages", "1", "--yes", "--json"
    )
    first = orjson.loads(out)
    assert code == 0 and first["stopped"] == "max_pages" and first["status"] == "running"
    assert (first["pages"], first["seen"]) == (1, 3)
    # Stripe fails the next page (every quick retry): the run stops, its cursor committed.
    fake.fail_next("500", times=3)
    code, out, err = invoke("--resume", "--yes", "--json")
    failed = orjson.loads(out)
    assert code == 1 and failed["stopped"] == "error" and "--resume" in err
    assert (failed["pages"], failed["seen"]) == (1, 3)
    # Resumed from the cursor: the rest of the window, nothing twice.
    code, out, _ = invoke("--resume", "--yes", "--json")
    done = orjson.loads(out)
    assert code == 0 and done["complete"] and done["stopped"] is None
    assert (done["seen"], done["new"], done["already_had"]) == (10, 6, 4)
    assert sorted(published.ids) == sorted(missing)  # each published once

    stored = sources(db)
    assert {i for i, s in stored.items() if s == "backfill"} == set(missing)
    assert {i for i, s in stored.items() if s == "webhook"} == set(had)
    with runtime_with(1) as rt:
        process_events(rt, published.ids, FIXED)
    with db.connect() as conn:
        detail = queries.get_event(conn, missing[0])
        statuses = conn.execute(text("SELECT DISTINCT status FROM stripe_events")).scalars()
        assert set(statuses) == {"processed", "received"}  # the 4 webhook ones wait for us
    assert detail is not None and detail["status"] == "processed"
    assert [r["action"] for r in detail["replays"]] in (["backfill"], ["backfill.resume"])
    assert invoke("--resume", "--yes")[0] == 2  # nothing left to resume


def test_table_output_and_a_second_backfill_finds_nothing_new(
    fake: FakeStripe, published: Published
) -> None:
    emit(fake, 3)
    code, out, _ = invoke("--since", "2h", "--yes")
    assert code == 0 and "already had" in out and "done" in out
    code, out, _ = invoke("--since", "2h", "--yes", "--json")
    again = orjson.loads(out)
    assert (again["seen"], again["new"], again["already_had"]) == (3, 0, 3)
    assert len(published.ids) == 3


def test_undelivered_only_and_types(fake: FakeStripe, published: Published) -> None:
    ids = emit(fake, 4)
    other = emit(fake, 1, "test.other")
    fake.events.mark_delivered(set(ids[:2]))  # Stripe delivered these two
    code, out, _ = invoke(
        "--since", "1h", "--undelivered-only", "--types", "test.fixable", "--yes", "--json"
    )
    result = orjson.loads(out)
    assert code == 0 and result["undelivered_only"] and result["types"] == ["test.fixable"]
    assert sorted(published.ids) == sorted(ids[2:])
    code, out, _ = invoke("--since", "1h", "--types", "test.other,test.none", "--yes", "--json")
    assert orjson.loads(out)["added_now"] == other


def test_refuses_windows_older_than_30_days_and_bad_option_mixes(published: Published) -> None:
    code, _, err = invoke("--since", "31d", "--yes")
    assert code == 2 and "older than 30 days" in err
    assert invoke("--since", "30d", "--yes", "--json")[0] == 0  # the edge itself is fine
    assert invoke("--yes")[0] == 2  # neither --since nor --resume
    assert invoke("--resume", "--types", "x", "--yes")[0] == 2
    assert invoke("--since", "1h")[0] == 1  # no --yes, no terminal: aborted
    assert published.ids == []


@pytest.fixture
def client(stripe_settings: Settings) -> Iterator[tuple[TestClient, Published]]:
    sink = Published()
    with TestClient(create_app(stripe_settings, publish=sink)) as c:
        yield c, sink


def test_api_backfill_in_slices_until_complete(
    fake: FakeStripe, client: tuple[TestClient, Published], db: Engine
) -> None:
    api, _ = client
    ids = emit(fake, 5)
    store_from_stripe(fake, db, ids[:1])
    body = {"since": "1h", "page_size": 2, "max_pages": 2, "reason": "incident 7"}
    first = api.post("/v1/ops/backfill", json=body, headers=OPS)
    assert first.status_code == 200, first.text
    assert not first.json()["complete"] and first.json()["seen"] == 4
    second = api.post("/v1/ops/backfill", json={"resume": True}, headers=OPS)
    assert second.status_code == 200 and second.json()["complete"]
    assert (second.json()["new"], second.json()["already_had"]) == (4, 1)
    assert api.post("/v1/ops/backfill", json={"since": "45d"}, headers=OPS).status_code == 422
    assert api.post("/v1/ops/backfill", json={}, headers=OPS).status_code == 422
    assert api.post("/v1/ops/backfill", json={"resume": True}, headers=OPS).status_code == 422
    fake.fail_next("500", times=3)
    failed = api.post("/v1/ops/backfill", json={"since": "1h", "max_pages": 1}, headers=OPS)
    assert failed.status_code == 502 and failed.json()["backfill"]["stopped"] == "error"
    audits = api.get(f"/v1/ops/events/{ids[-1]}", headers=OPS).json()["replays"]
    assert audits[0]["action"] == "backfill" and audits[0]["reason"] == "incident 7"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/ops/backfill"),
        ("GET", "/v1/ops/commands"),
        ("GET", "/v1/ops/commands/cmd_x"),
        ("POST", "/v1/ops/commands/cmd_x/retry"),
    ],
)
def test_new_ops_routes_need_an_ops_token(
    client: tuple[TestClient, Published], method: str, path: str
) -> None:
    api, _ = client
    assert api.request(method, path).status_code == 401
    reader = {"Authorization": f"Bearer {READER}"}
    assert api.request(method, path, headers=reader).status_code == 403


def test_an_unstorable_event_from_stripe_is_counted_and_the_rest_of_its_page_stored(
    fake: FakeStripe, published: Published
) -> None:
    good = emit(fake, 2)
    fake.events.emit(FIXABLE, {"id": "obj_with_nul", "object": "thing", "note": "a\x00b"}, None)
    good += emit(fake, 1)
    code, out, _ = invoke("--since", "2h", "--yes", "--json")
    result = orjson.loads(out)
    assert code == 0 and result["status"] == "done", out
    assert result["invalid_now"] == 1
    assert sorted(result["added_now"]) == sorted(good)
