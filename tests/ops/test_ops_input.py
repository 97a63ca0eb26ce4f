"""Ops API input limits and odd stored data: bodies are size-limited, detail views never 500."""

from __future__ import annotations

import anyio
import orjson
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient
from starlette.types import Message, Scope

from domain import event_log
from domain.envelope import parse_envelope
from domain.event_log import NewEvent
from domain.ops.queries import payload_summary
from domain.types import utcnow
from ingest.inputs import OPS_BODY_BYTES
from tests.ops.support import BROKEN, FIXABLE, run_until_settled, runtime_with
from tests.support.env import API_TOKEN

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
OPS_POSTS = [
    "/v1/ops/dead-letters/1/replay",
    "/v1/ops/dead-letters/replay",
    "/v1/ops/events/evt_1/replay",
    "/v1/ops/backfill",
    "/v1/ops/commands/cmd_1/retry",
    "/v1/ops/reconcile",
]
FORTY_MIB = 40 * 1024 * 1024


@pytest.fixture
def client(api_client: TestClient) -> TestClient:
    return api_client


def _post_raw(
    client: TestClient, path: str, headers: dict[str, str], chunk: bytes, chunks: int
) -> tuple[list[Message], int]:
    """POST straight through ASGI; returns the messages sent and how many chunks were read."""
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": read < chunks}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": ("testserver", 80),
        "client": ("testclient", 1),
    }
    anyio.run(client.app, scope, receive, send)
    return sent, read


@pytest.mark.parametrize("path", OPS_POSTS)
def test_a_declared_40_mib_ops_body_is_413_unread(client: TestClient, path: str) -> None:
    headers = {**AUTH, "Content-Length": str(FORTY_MIB), "Content-Type": "application/json"}
    sent, read = _post_raw(client, path, headers, b"x" * 65_536, FORTY_MIB // 65_536)
    assert sent[0]["status"] == 413 and read == 0
    assert orjson.loads(sent[1]["body"])["error"] == "body_too_large"


@pytest.mark.parametrize("path", OPS_POSTS)
def test_a_streamed_40_mib_reason_is_413_after_the_limit(client: TestClient, path: str) -> None:
    # Chunked, no Content-Length: counted while streamed, and the rest is never read.
    chunk = b'{"reason": "' + b"x" * 16_372
    sent, read = _post_raw(client, path, AUTH, chunk, FORTY_MIB // len(chunk))
    assert sent[0]["status"] == 413
    assert read <= OPS_BODY_BYTES // len(chunk) + 1


def test_a_reason_within_the_limit_is_still_accepted(client: TestClient) -> None:
    body = {"all": True, "dry_run": True, "reason": "r" * 2000}
    answer = client.post("/v1/ops/dead-letters/replay", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text


ODD_DATA: list[object] = [
    None,
    "a string",
    [1, {"object": {"id": "x"}}],
    7,
    {"object": None},
    {"object": []},
]


@pytest.mark.parametrize("data", ODD_DATA, ids=repr)
def test_payload_summary_copes_with_any_data(data: object) -> None:
    raw = orjson.dumps({"id": "evt_odd", "type": FIXABLE, "data": data}).decode()
    summary = payload_summary(raw)
    assert summary["bytes"] == len(raw) and summary["id"] is None and summary["object"] is None


def test_payload_summary_shows_no_nested_values_as_ids() -> None:
    raw = orjson.dumps({"data": {"object": {"id": {"email": "a@b.c"}, "object": ["x"]}}}).decode()
    assert payload_summary(raw) == {"bytes": len(raw), "object": None, "id": None}


def test_detail_views_of_events_whose_data_is_not_an_object(client: TestClient, db: Engine) -> None:
    rows, ids = [], []
    for n, data in enumerate([None, "a string", ["a", "list"]]):
        event_id = f"evt_odd_{n}"
        raw = orjson.dumps({"id": event_id, "type": FIXABLE, "created": 1, "data": data})
        rows.append(NewEvent(parse_envelope(raw), raw.decode()))
        ids.append(event_id)
    with runtime_with(1) as rt:
        with rt.engine.begin() as conn:
            event_log.insert_events(conn, rows, utcnow())
        run_until_settled(rt, ids, BROKEN)
    for event_id in ids:
        event = client.get(f"/v1/ops/events/{event_id}", headers=AUTH)
        assert event.status_code == 200, event.text
        assert event.json()["payload_summary"]["id"] is None
        dead = client.get(f"/v1/ops/dead-letters/{event_id}", headers=AUTH)
        assert dead.status_code == 200, dead.text
        assert dead.json()["event"]["payload_summary"]["object"] is None
