"""Pipeline statistics for `billing stats`, `GET /v1/ops/stats` and the metrics collector."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, select

import domain.commands  # (registers the commands table)
import domain.credits  # (registers the credit ledger tables)
import domain.mirror  # (registers the notifications outbox table)
import domain.usage.records
import domain.usage.report_store  # noqa: F401  (its index on usage_records)
from domain.event_log import DEAD, EVENTS, Executor
from domain.models import Base, EventStatus

UNFINISHED = (
    EventStatus.RECEIVED,
    EventStatus.QUEUED,
    EventStatus.PROCESSING,
    EventStatus.RETRYING,
)


@dataclass
class Stats:
    """A snapshot of the event pipeline (and of commands and notifications where present)."""

    by_status: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    backlog: dict[str, int] = field(default_factory=dict)
    oldest_unprocessed_age_seconds: float | None = None
    dead_letters: int = 0
    dead_letters_by_error: dict[str, int] = field(default_factory=dict)
    commands_by_status: dict[str, dict[str, int]] | None = None
    dead_commands: int | None = None
    notifications_by_status: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def backlog(bind: Executor) -> dict[str, int]:
    """Unfinished events per status (every status present, zero included)."""
    rows = bind.execute(
        select(EVENTS.c.status, func.count())
        .where(EVENTS.c.status.in_(UNFINISHED))
        .group_by(EVENTS.c.status)
    ).all()
    found = {str(s): int(n) for s, n in rows}
    return {str(s): found.get(str(s), 0) for s in UNFINISHED}


def oldest_unprocessed_age(bind: Executor, now: datetime) -> float | None:
    """Seconds since the oldest unfinished event was received (None when there is none)."""
    oldest = bind.execute(
        select(func.min(EVENTS.c.received_at)).where(EVENTS.c.status.in_(UNFINISHED))
    ).scalar_one_or_none()
    if oldest is None:
        return None
    if oldest.tzinfo is None:  # SQLite hands back naive UTC from aggregate functions
        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (now - oldest).total_seconds())


def dead_letters_by_error(bind: Executor) -> dict[str, int]:
    """Events that are dead now, per error type of their last failure."""
    rows = bind.execute(
        select(DEAD.c.error_type, func.count())
        .join_from(DEAD, EVENTS, DEAD.c.event_id == EVENTS.c.event_id)
        .where(EVENTS.c.status == EventStatus.DEAD)
        .group_by(DEAD.c.error_type)
    ).all()
    return {str(t): int(n) for t, n in rows}


def _two_way(bind: Executor, table: Table, first: str, second: str) -> dict[str, dict[str, int]]:
    rows = bind.execute(
        select(table.c[first], table.c[second], func.count()).group_by(
            table.c[first], table.c[second]
        )
    ).all()
    out: dict[str, dict[str, int]] = {}
    for a, b, n in rows:
        out.setdefault(str(a), {})[str(b)] = int(n)
    return out


def commands_by_status(bind: Executor) -> dict[str, dict[str, int]] | None:
    """Hook for the commands table (type -> status -> count); None while it does not exist."""
    table = Base.metadata.tables.get("commands")
    if table is None or not {"type", "status"} <= set(table.c.keys()):
        return None
    return _two_way(bind, table, "type", "status")


def notifications_by_status(bind: Executor) -> dict[str, int] | None:
    """Notification outbox rows per delivery status; None without the mirror's outbox."""
    table = Base.metadata.tables.get("notifications")
    if table is None or "delivery_status" not in table.c:
        return None
    rows = bind.execute(
        select(table.c.delivery_status, func.count()).group_by(table.c.delivery_status)
    ).all()
    return {str(s): int(n) for s, n in rows}


def collect(bind: Executor, now: datetime, *, by_type: bool = True) -> Stats:
    """Everything at once; `by_type` scans the whole event table, so metrics leave it off."""
    stats = Stats()
    if by_type:
        stats.by_type = _two_way(bind, EVENTS, "type", "status")
        for per_status in stats.by_type.values():
            for status, n in per_status.items():
                stats.by_status[status] = stats.by_status.get(status, 0) + n
    stats.backlog = backlog(bind)
    stats.oldest_unprocessed_age_seconds = oldest_unprocessed_age(bind, now)
    stats.dead_letters_by_error = dead_letters_by_error(bind)
    stats.dead_letters = sum(stats.dead_letters_by_error.values())
    stats.commands_by_status = commands_by_status(bind)
    if stats.commands_by_status is not None:  # dead commands are shown to ops like dead events
        stats.dead_commands = sum(p.get("dead", 0) for p in stats.commands_by_status.values())
    stats.notifications_by_status = notifications_by_status(bind)
    return stats
