"""Webhooks of the fake Stripe, delivered in-process: stored, then run by the real processor."""

from __future__ import annotations

from typing import Any

import orjson

from domain import event_log
from domain.envelope import parse_envelope
from domain.event_log import NewEvent
from domain.types import utcnow
from tests.support.fake_stripe import FakeStripe
from workers.processor import process_events
from workers.runtime import Runtime


def latest(fake: FakeStripe, event_type: str) -> dict[str, Any]:
    """The newest event of this type the fake Stripe emitted."""
    return [e for e in fake.events.snapshot() if e["type"] == event_type][-1]


def deliver(rt: Runtime, event: dict[str, Any]) -> None:
    """The webhook arrives and is processed (in-process: store it, run the processor)."""
    raw = orjson.dumps(event)
    with rt.engine.begin() as conn:
        event_log.insert_events(conn, [NewEvent(parse_envelope(raw), raw.decode())], utcnow())
    assert process_events(rt, [event["id"]]).processed == [event["id"]]
