"""The ops API in-process on real Postgres: auth, pagination, filters, replays, OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from domain.settings import load_settings
from ingest.app import create_app
from ingest.openapi import build_document
from tests.ops.support import FIXED, Published, dead_letters, runtime_with, store
from tests.support.db import effects, statuses
from tests.support.env import API_TOKEN
from tests.support.processes import wait_until
from workers.processor import process_events
from workers.runtime import Runtime

READER = "reader-token-0123456789abcdef"
OPS = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def client(db: Engine, broker: object, published: Published) -> Iterator[TestClient]:
    settings = load_settings(
        api_tokens=f"tester:{API_TOKEN}:commands+read+ops,reader:{READER}:read"
    )
    with TestClient(create_app(settings, publish=published)) as c:
        yield c


@pytest.fixture
def rt(db: Engine) -> Iterator[Runtime]:
    with runtime_with(1) as runtime:
        yield runtime


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/ops/dead-letters"),
        ("GET", "/v1/ops/dead-letters/1"),
        ("POST", "/v1/ops/dead-letters/1/replay"),
        ("POST", "/v1/ops/dead-letters/replay"),
        ("GET", "/v1/ops/events"),
        ("GET", "/v1/ops/events/evt_1"),
        ("POST", "/v1/ops/events/evt_1/replay"),
        ("GET", "/v1/ops/stats"),
    ],
)
def test_every_ops_route_needs_an_ops_token(client: TestClient, method: str, path: str) -> None:
    assert client.request(method, path).status_code == 401
    forbidden = client.request(method, path, headers={"Authorization": f"Bearer {READER}"})
    assert forbidden.status_code == 403 and READER not in forbidden.text
    assert client.request(method, path, headers=OPS).status_code not in (401, 403)
    doc = build_document()["paths"][path.replace("/1", "/{id}").replace("evt_1", "{event_id}")]
    assert doc[method.lower()]["security"] == [{"bearer": ["ops"]}]


def test_list_paginates_and_filters_dead_letters(client: TestClient, rt: Runtime) -> None:
    ids = dead_letters(rt, 5)
    page = client.get("/v1/ops/dead-letters", params={"limit": 3}, headers=OPS).json()
    assert len(page["data"]) == 3 and page["next_before"] == page["data"][-1]["id"]
    rest = client.get(
        "/v1/ops/dead-letters", params={"limit": 3, "before": page["next_before"]}, headers=OPS
    ).json()
    assert len(rest["data"]) == 2 and rest["next_before"] is None
    assert sorted(r["event_id"] for r in page["data"] + rest["data"]) == sorted(ids)
    none = client.get("/v1/ops/dead-letters", params={"type": "x.y"}, headers=OPS).json()
    assert none["data"] == []
    bad = client.get("/v1/ops/dead-letters", params={"since": "soon", "limit": 0}, headers=OPS)
    assert bad.status_code == 422  # every bad parameter is named, each once
    assert sorted(e["field"] for e in bad.json()["fields"]) == ["limit", "since"]
    assert client.get("/v1/ops/dead-letters", params={"limit": 0}, headers=OPS).status_code == 422


def test_replay_one_via_api_is_audited_with_the_token_name(
    client: TestClient, rt: Runtime, db: Engine, published: Published
) -> None:
    [event_id] = dead_letters(rt, 1)
    response = client.post(
        "/v1/ops/dead-letters/1/replay", json={"reason": "hotfix 7"}, headers=OPS
    )
    assert response.status_code == 200 and response.json()["replayed"] == [event_id]
    assert wait_until(lambda: published.ids == [event_id], 5)
    process_events(rt, [event_id], FIXED)
    detail = client.get(f"/v1/ops/events/{event_id}", headers=OPS).json()
    assert detail["status"] == "processed"
    [audit] = detail["replays"]
    assert (audit["actor"], audit["via"], audit["reason"]) == ("tester", "api", "hotfix 7")
    dl = client.get(f"/v1/ops/dead-letters/{event_id}", headers=OPS).json()
    assert dl["replay_count"] == 1 and dl["last_replayed_by"] == "api:tester"
    assert client.post("/v1/ops/dead-letters/99/replay", headers=OPS).status_code == 404
    assert client.get("/v1/ops/dead-letters/99", headers=OPS).status_code == 404


def test_bulk_replay_dry_run_then_filter(client: TestClient, rt: Runtime, db: Engine) -> None:
    dead_letters(rt, 4)
    dead_letters(rt, 2, "test.other")
    empty = client.post("/v1/ops/dead-letters/replay", json={}, headers=OPS)
    assert empty.status_code == 422
    dry = client.post(
        "/v1/ops/dead-letters/replay", json={"all": True, "dry_run": True}, headers=OPS
    )
    assert dry.json()["by_type"] == {"test.fixable": 4, "test.other": 2}
    assert statuses(db) == {"dead": 6}
    done = client.post(
        "/v1/ops/dead-letters/replay", json={"type": "test.other", "since": "1h"}, headers=OPS
    ).json()
    assert done["count"] == 2 and statuses(db) == {"dead": 4, "queued": 2}
    unknown = client.post("/v1/ops/dead-letters/replay", json={"bogus": 1}, headers=OPS)
    assert unknown.status_code == 422


def test_events_list_show_and_replay(client: TestClient, rt: Runtime, db: Engine) -> None:
    ids = store(rt, 3)
    process_events(rt, ids, FIXED)
    first = client.get("/v1/ops/events", params={"limit": 2}, headers=OPS).json()
    second = client.get(
        "/v1/ops/events", params={"limit": 2, "cursor": first["next_cursor"]}, headers=OPS
    ).json()
    assert sorted(r["event_id"] for r in first["data"] + second["data"]) == sorted(ids)
    assert second["next_cursor"] is None
    bad = client.get("/v1/ops/events", params={"status": "nope"}, headers=OPS)
    assert bad.status_code == 422
    conflict = client.post(f"/v1/ops/events/{ids[0]}/replay", json={}, headers=OPS)
    assert conflict.status_code == 409 and "force" in conflict.json()["message"]
    forced = client.post(f"/v1/ops/events/{ids[0]}/replay", json={"force": True}, headers=OPS)
    assert forced.status_code == 200 and forced.json()["replayed"] == [ids[0]]
    process_events(rt, [ids[0]], FIXED)
    assert effects(db, ids[0]) == 2
    assert client.post("/v1/ops/events/evt_nope/replay", headers=OPS).status_code == 404
    stats = client.get("/v1/ops/stats", headers=OPS).json()
    assert stats["by_status"] == {"processed": 3} and stats["dead_letters"] == 0
