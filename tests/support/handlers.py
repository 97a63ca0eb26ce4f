"""Handlers the tests register in the dispatch table to exercise the mechanism."""

from __future__ import annotations

import time

from sqlalchemy import text

from domain.envelope import EventEnvelope
from domain.mirror.unit import Registration, Unit

EFFECTS_DDL = (
    "CREATE TABLE IF NOT EXISTS test_effects ("
    " id SERIAL PRIMARY KEY, event_id TEXT NOT NULL, pid INTEGER,"
    " at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())"
)


class HandlerFailure(RuntimeError):
    """Raised on purpose by the failing test handler."""


def record(unit: Unit, event: EventEnvelope) -> None:
    """The effect whose count proves exactly-once: one row per committed run."""
    import os

    unit.session.execute(
        text("INSERT INTO test_effects (event_id, pid) VALUES (:e, :p)"),
        {"e": event.event_id, "p": os.getpid()},
    )


def slow(unit: Unit, event: EventEnvelope) -> None:
    """Sleeps for data.object.sleep seconds before recording, so a test can kill it midway."""
    time.sleep(float(event.object.get("sleep", 5)))
    record(unit, event)


def fail(unit: Unit, event: EventEnvelope) -> None:
    """Writes, then always fails: the write must roll back."""
    record(unit, event)
    raise HandlerFailure(f"handler failed on purpose for {event.event_id}")


TEST_REGISTRY: dict[str, Registration] = {
    "test.recorded": Registration(record),
    "test.slow": Registration(slow),
    "test.failing": Registration(fail),
}


def register(registry: dict[str, Registration]) -> None:
    registry.update(TEST_REGISTRY)
