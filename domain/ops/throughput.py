"""Events received and attempts failed per minute over the last hour (the console's chart).

A minute's counts are final once it is over (received_at and failed_at are stamped when the
row is written; a minute's grace covers commits that land just after it), so a
`ThroughputCache` counts each settled minute once and afterwards only the last two: the
overview's refresh reads about two minutes of rows (by the received_at / failed_at indexes),
not an hour.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Integer, func, select

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


def _dialect(bind: Executor) -> str:
    return bind.get_bind().dialect.name if hasattr(bind, "get_bind") else bind.dialect.name


def _minute(bind: Executor, column: Column[Any]) -> Any:
    if _dialect(bind) == "postgresql":
        return func.floor(func.extract("epoch", column) / 60)
    return func.cast(func.strftime("%s", column), Integer) / 60


def per_minute(bind: Executor, column: Column[Any], start: datetime) -> dict[int, int]:
    """Rows per minute (minutes since the epoch) with `column` at or after `start`."""
    bucket = _minute(bind, column)
    rows = bind.execute(select(bucket, func.count()).where(column >= start).group_by(bucket))
    return {int(minute): int(n) for minute, n in rows}


class ThroughputCache:
    """Per-minute counts of the last hour, each settled minute counted once."""

    def __init__(self) -> None:
        self._settled: dict[int, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def throughput(self, bind: Executor, now: datetime) -> Throughput:
        """The last MINUTES minutes, the current one included."""
        current = int(now.astimezone(UTC).timestamp() // 60)
        first = current - MINUTES + 1
        settled_before = current - 1  # the previous minute may still get late commits
        with self._lock:
            known = {m: v for m, v in self._settled.items() if m >= first}
        todo = [m for m in range(first, settled_before) if m not in known]
        since = todo[0] if todo else settled_before
        start = datetime.fromtimestamp(since * 60, UTC)
        events = per_minute(bind, EVENTS.c.received_at, start)
        failures = per_minute(bind, ATTEMPTS.c.failed_at, start)
        fresh = {m: (events.get(m, 0), failures.get(m, 0)) for m in range(since, current + 1)}
        with self._lock:
            self._settled = {**known, **{m: v for m, v in fresh.items() if m < settled_before}}
        counts = {**known, **fresh}
        minutes = range(first, current + 1)
        return Throughput(
            datetime.fromtimestamp(first * 60, UTC),
            [counts.get(m, (0, 0))[0] for m in minutes],
            [counts.get(m, (0, 0))[1] for m in minutes],
        )


def throughput(bind: Executor, now: datetime) -> Throughput:
    """The last hour, counted afresh."""
    return ThroughputCache().throughput(bind, now)
