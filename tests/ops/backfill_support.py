"""Helpers for backfill tests: events the fake Stripe has, some of them stored already."""

from __future__ import annotations

import orjson
from sqlalchemy import Engine

from domain import event_log
from domain.envelope import parse_envelope
from domain.event_log import NewEvent
from domain.samples import new_id
from domain.types import utcnow
from tests.ops.support import FIXABLE
from tests.support.fake_stripe import FakeStripe

READER = "reader-token-0123456789abcdef"


def emit(fake: FakeStripe, n: int, event_type: str = FIXABLE) -> list[str]:
    """`n` events Stripe created (not delivered anywhere yet); their ids, oldest first."""
    for _ in range(n):
        fake.events.emit(event_type, {"id": new_id("obj"), "object": "thing"}, None)
    return [e["id"] for e in fake.events.snapshot()[-n:]]


def store_from_stripe(fake: FakeStripe, engine: Engine, event_ids: list[str]) -> None:
    """Store these of the fake's events as if their webhooks had arrived."""
    bodies = [orjson.dumps(e) for e in fake.events.snapshot() if e["id"] in event_ids]
    rows = [NewEvent(parse_envelope(b), b.decode()) for b in bodies]
    with engine.begin() as conn:
        event_log.insert_events(conn, rows, utcnow())
