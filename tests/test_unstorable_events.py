"""Signed events that can never be stored get a 400 before the writer; one bad batch member
fails alone, its innocent neighbours are stored."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, create_engine
from starlette.testclient import TestClient

from domain.envelope import EnvelopeError, ensure_storable, parse_envelope
from domain.event_log import NewEvent
from domain.models import StripeEvent
from domain.samples import build_event, new_id
from domain.settings import Settings
from ingest.app import create_app
from ingest.writer import GroupCommitWriter
from tests.support.db import column_length, count, event_row
from tests.support.env import TEST_DATABASE_URL
from tests.support.stripe_events import signed_headers

COLUMNS = cast(Table, StripeEvent.__table__).c
ID_MAX = column_length(COLUMNS.event_id)
TYPE_MAX = column_length(COLUMNS.type)
API_VERSION_MAX = column_length(COLUMNS.api_version)
OBJECT_TYPE_MAX = column_length(COLUMNS.object_type)
OBJECT_ID_MAX = column_length(COLUMNS.object_id)
ACCOUNT_MAX = column_length(COLUMNS.account)


def body_of(**changes: Any) -> bytes:
    """A realistic event with top-level fields (or data.object fields, prefixed obj_) changed."""
    obj = {"id": new_id("obj"), "object": "test_object"}
    obj.update({k.removeprefix("obj_"): v for k, v in changes.items() if k.startswith("obj_")})
    event = build_event("test.recorded", obj, event_id=new_id("evt"))
    event.update({k: v for k, v in changes.items() if not k.startswith("obj_")})
    return json.dumps(event).encode()  # orjson refuses integers outside 64 bits


UNSTORABLE = [
    pytest.param(body_of(id="evt_" + "x" * ID_MAX), id="id-too-long"),
    pytest.param(body_of(type="x" * (TYPE_MAX + 1)), id="type-too-long"),
    pytest.param(body_of(api_version="2" * (API_VERSION_MAX + 1)), id="api-version-too-long"),
    pytest.param(body_of(account="acct_" + "x" * ACCOUNT_MAX), id="account-too-long"),
    pytest.param(body_of(obj_object="o" * (OBJECT_TYPE_MAX + 1)), id="object-type-too-long"),
    pytest.param(body_of(obj_id="x" * (OBJECT_ID_MAX + 1)), id="object-id-too-long"),
    pytest.param(body_of(created=2**63), id="created-2^63"),
    pytest.param(body_of(created=2**64 - 1), id="created-2^64-1"),
    pytest.param(body_of(id="evt_\u0000"), id="nul-in-id"),
    pytest.param(body_of(obj_description="a\u0000b"), id="nul-in-a-nested-string"),
    pytest.param(body_of(obj_metadata={"k\u0000": "v"}), id="nul-in-a-key"),
    pytest.param(body_of(obj_lines=[[["deep\u0000"]]]), id="nul-in-a-nested-list"),
]


@pytest.mark.parametrize("body", UNSTORABLE)
def test_unstorable_events_are_refused_by_the_domain(body: bytes) -> None:
    envelope = parse_envelope(body)
    with pytest.raises(EnvelopeError) as info:
        ensure_storable(envelope, body)
    assert info.value.code == "unstorable_event"
    assert str(info.value)


def test_a_literal_backslash_u0000_is_not_a_nul() -> None:
    body = body_of(obj_description="C:\\u0000 is a path, not a NUL")
    assert b"\\\\u0000" in body
    ensure_storable(parse_envelope(body), body)


# Through the endpoint, on Postgres: the limits are the real columns'.


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, publish=lambda ids: None)) as c:
        yield c


@pytest.mark.parametrize("body", UNSTORABLE)
def test_unstorable_events_get_400_not_503(client: TestClient, db: Engine, body: bytes) -> None:
    response = client.post("/webhooks/stripe", content=body, headers=signed_headers(body))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "unstorable_event"
    assert response.json()["message"]
    assert count(db, "stripe_events") == 0


def test_values_at_every_column_limit_are_stored(client: TestClient, db: Engine) -> None:
    event_id = "evt_" + "x" * (ID_MAX - 4)
    body = body_of(
        id=event_id,
        type="t" * TYPE_MAX,
        api_version="2" * API_VERSION_MAX,
        account="a" * ACCOUNT_MAX,
        created=2**63 - 1,
        obj_object="o" * OBJECT_TYPE_MAX,
        obj_id="i" * OBJECT_ID_MAX,
    )
    response = client.post("/webhooks/stripe", content=body, headers=signed_headers(body))
    assert response.status_code == 200, response.text
    row = event_row(db, event_id)
    assert row is not None
    assert row["event_created"] == 2**63 - 1
    assert len(row["object_id"]) == OBJECT_ID_MAX


# The writer: a batch that fails is retried member by member.


def _event(**changes: Any) -> NewEvent:
    raw = body_of()
    envelope = replace(parse_envelope(raw), **changes)
    return NewEvent(envelope=envelope, raw_body=raw.decode())


class GatedWriter(GroupCommitWriter):
    """A writer whose first insert waits at a gate, so later events queue into one batch."""

    def __init__(self, engine: Engine) -> None:
        self.gate = threading.Event()
        self.waiting = threading.Event()
        self.batches: list[int] = []
        super().__init__(engine, threads=1)

    def _insert(self, events: list[NewEvent]) -> set[str]:
        if not self.batches:
            self.waiting.set()
            self.gate.wait(10)
        self.batches.append(len(events))
        return super()._insert(events)


async def _store_all(writer: GatedWriter, events: list[NewEvent]) -> list[object]:
    first = asyncio.ensure_future(writer.store(_event()))
    await asyncio.to_thread(writer.waiting.wait, 10)
    rest = [asyncio.ensure_future(writer.store(e)) for e in events]
    await asyncio.sleep(0.05)  # every store() has queued its event behind the gate
    writer.gate.set()
    return list(await asyncio.gather(first, *rest, return_exceptions=True))


def test_one_unstorable_member_fails_alone_and_its_neighbours_are_stored(db: Engine) -> None:
    engine = create_engine(TEST_DATABASE_URL)
    writer = GatedWriter(engine)
    good = [_event() for _ in range(4)]
    bad = _event(api_version="9" * (API_VERSION_MAX + 1))  # bypasses the endpoint's check
    try:
        results = asyncio.run(_store_all(writer, [good[0], good[1], bad, good[2], good[3]]))
    finally:
        writer.close()
        engine.dispose()
    assert writer.batches[1] == 5  # the five were tried together first
    assert results[0] is True
    assert results[1:3] == [True, True]
    assert isinstance(results[3], Exception)
    assert results[4:] == [True, True]
    for event in good:
        assert event_row(db, event.envelope.event_id) is not None
    assert count(db, "stripe_events") == 5


def test_a_database_outage_fails_the_batch_without_trying_each_member(settings: Settings) -> None:
    engine = create_engine("postgresql+psycopg://127.0.0.1:1/nowhere")
    writer = GatedWriter(engine)
    try:
        results = asyncio.run(_store_all(writer, [_event() for _ in range(5)]))
    finally:
        writer.close()
        engine.dispose()
    assert all(isinstance(r, Exception) for r in results)
    # the gate event alone, then the five together: never one by one against a dead server
    assert writer.batches == [1, 5]
