"""Events received and attempts failed per minute over the last hour (the console's chart)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, func, select

from domain.event_log import EVENTS, Executor
from domain.ops.attempts import ATTEMPTS

MINUTES = 60


@dataclass(frozen=True)
class Throughput:
    """Per-minute counts, oldest minute first; `start` is the first minute's start."""

    start: datetime
    events: list[int]
    failures: list[int]

    @property
    def events_per_minute(self) -> float:
        return sum(self.events) / len(self.events)

    @property
    def failures_per_minute(self) -> float:
        return sum(self.failures) / len(self.failures)


def _minute(bind: Executor, column: Column[Any]) -> Any:
    dialect = bind.get_bind().dialect.name if hasattr(bind, "get_bind") else bind.dialect.name
    if dialect == "postgresql":
        return func.floor(func.extract("epoch", column) / 60)
    return func.cast(func.strftime("%s", column), EVENTS.c.attempts.type) / 60


def _per_minute(bind: Executor, column: Column[Any], start: datetime) -> list[int]:
    bucket = _minute(bind, column)
    rows = bind.execute(select(bucket, func.count()).where(column >= start).group_by(bucket))
    first = int(start.timestamp() // 60)
    counts = [0] * MINUTES
    for minute, n in rows:
        index = int(minute) - first
        if 0 <= index < MINUTES:
            counts[index] += int(n)
    return counts


def throughput(bind: Executor, now: datetime) -> Throughput:
    """Events received and failed attempts per minute, the last MINUTES minutes."""
    now = now.astimezone(UTC)
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=MINUTES - 1)
    return Throughput(
        start,
        _per_minute(bind, EVENTS.c.received_at, start),
        _per_minute(bind, ATTEMPTS.c.failed_at, start),
    )
