"""Seeding the event log with events of any status and age, with their dependent rows."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import orjson
from sqlalchemy import Engine, insert, select

from domain.event_log import DEAD, EVENTS
from domain.models import EventStatus
from domain.ops.attempts import ATTEMPTS
from domain.ops.audit import AUDIT, AUDIT_EVENTS
from domain.samples import build_event, new_id

NOW = datetime.fromisoformat("2026-12-01T12:00:00+00:00")


@dataclass(frozen=True)
class Spec:
    """One seeded event: its status, age, and what points at it (ages in days)."""

    status: EventStatus
    age_days: float
    dead_letter_age: float | None = None  # a dead letter that failed this many days ago
    audit_age: float | None = None  # a replay audited this many days ago
    attempts: int = 0


def seed(engine: Engine, specs: list[Spec], now: datetime = NOW) -> dict[str, Spec]:
    """Insert one event per spec (with dead letters, audits, attempts); return id -> spec."""
    seeded: dict[str, Spec] = {}
    with engine.begin() as conn:
        for spec in specs:
            event_id = new_id("evt")
            received = now - timedelta(days=spec.age_days)
            body = build_event(
                "invoice.paid",
                {"id": new_id("in"), "object": "invoice", "status": "paid"},
                event_id=event_id,
                created=int(received.timestamp()) - 5,
            )
            conn.execute(
                insert(EVENTS).values(
                    event_id=event_id,
                    type="invoice.paid",
                    livemode=False,
                    event_created=body["created"],
                    raw_body=orjson.dumps(body).decode(),
                    source="webhook",
                    received_at=received,
                    status=spec.status,
                    attempts=spec.attempts,
                    processed_at=received if spec.status == EventStatus.PROCESSED else None,
                )
            )
            for n in range(spec.attempts):
                conn.execute(
                    insert(ATTEMPTS).values(
                        event_id=event_id,
                        attempt=n + 1,
                        failed_at=received,
                        error_type="Boom",
                        message="boom",
                    )
                )
            if spec.dead_letter_age is not None:
                conn.execute(
                    insert(DEAD).values(
                        event_id=event_id,
                        failed_at=now - timedelta(days=spec.dead_letter_age),
                        attempts=spec.attempts,
                        error_type="Boom",
                        error_message="boom",
                        traceback="tb",
                    )
                )
            if spec.audit_age is not None:
                audit_id = conn.execute(
                    insert(AUDIT)
                    .values(
                        at=now - timedelta(days=spec.audit_age),
                        actor="oncall",
                        via="cli",
                        action="events.force_replay",
                        selector="{}",
                        event_count=1,
                    )
                    .returning(AUDIT.c.id)
                ).scalar_one()
                conn.execute(
                    insert(AUDIT_EVENTS).values(
                        audit_id=audit_id, event_id=event_id, previous_status="processed"
                    )
                )
            seeded[event_id] = spec
    return seeded


def random_specs(rng: random.Random, n: int) -> list[Spec]:
    """Mixed statuses and ages around the horizon, some dead-lettered or audited."""
    specs = []
    for _ in range(n):
        status = rng.choice(list(EventStatus))
        age = rng.choice([1, 20, 34, 36, 89, 91, 120, 400]) + rng.random()
        dead = rng.choice([None, None, 2.0, 200.0]) if status != EventStatus.RECEIVED else None
        if status == EventStatus.DEAD and dead is None:
            dead = age
        audit = rng.choice([None, None, None, 3.0, 300.0])
        specs.append(Spec(status, age, dead, audit, rng.choice([0, 0, 2])))
    return specs


def expected_prunable(spec: Spec, retention_days: int) -> bool:
    """The rule, written independently of the SQL: what may go."""
    finished = spec.status in (EventStatus.PROCESSED, EventStatus.IGNORED)
    recent = [a for a in (spec.dead_letter_age, spec.audit_age) if a is not None]
    return finished and spec.age_days > retention_days and all(a > retention_days for a in recent)


def event_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(EVENTS.c.event_id)).scalars())


def count(engine: Engine, table: object) -> int:
    from sqlalchemy import func

    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def archive_lines(directory: Path) -> list[dict[str, object]]:
    from workers.archive import archive_files, read_records

    return [r for p in archive_files(directory) for r in read_records(p)]
