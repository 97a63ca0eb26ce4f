"""Event log retention: which stored events may be pruned, in batches, and the SQL to do it.

An event is prunable when it was received before the horizon (now - RETENTION_DAYS), it is
finished (`processed` or `ignored`), and nothing still points at it: no replay audited
within the horizon and no dead letter that failed or was replayed within it. `dead` and
unfinished events are never prunable, however old. The horizon is at least 35 days
(settings), past Stripe's 3 days of retries and a backfill's 30 days, so a pruned id can
never be delivered again and stored as new: dedupe by event id stays exact.

Batches are keyset-paginated on (received_at, event_id) and locked `FOR UPDATE SKIP LOCKED`
on Postgres, so a batch never waits on a worker and never rescans what it already skipped.
The caller owns each batch's transaction (archive, then delete, then commit).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, and_, delete, exists, func, or_, select

from domain.event_log import DEAD, EVENTS, Executor
from domain.models import EventStatus, ReplayAudit, ReplayAuditEvent
from domain.ops.attempts import ATTEMPTS

AUDIT = cast(Table, ReplayAudit.__table__)
AUDIT_EVENTS = cast(Table, ReplayAuditEvent.__table__)
PRUNABLE_STATUSES = (EventStatus.PROCESSED, EventStatus.IGNORED)
Cursor = tuple[datetime, str]
# Rows that point at an event, and the PruneCounts field that counts them.
_DEPENDENTS = ((ATTEMPTS, "attempts"), (DEAD, "dead_letters"), (AUDIT_EVENTS, "audit_links"))


@dataclass(frozen=True)
class PrunedEvent:
    """What the archive keeps of one pruned event: its lifecycle columns and raw body."""

    event_id: str
    type: str
    source: str
    status: str
    received_at: datetime
    event_created: int
    processed_at: datetime | None
    raw_body: str


@dataclass
class PruneCounts:
    """Rows deleted (or, dry run, that would be): events by status, and dependent rows."""

    events: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    dead_letters: int = 0
    audit_links: int = 0

    @property
    def total(self) -> int:
        return sum(self.events.values())

    def add(self, other: PruneCounts) -> None:
        self.events.update(other.events)
        self.attempts += other.attempts
        self.dead_letters += other.dead_letters
        self.audit_links += other.audit_links


def horizon(now: datetime, retention_days: int) -> datetime:
    """Events received before this instant are old enough to prune."""
    return now - timedelta(days=retention_days)


def _prunable(cutoff: datetime) -> list[Any]:
    e = EVENTS.c
    recent_audit = exists().where(
        AUDIT_EVENTS.c.event_id == e.event_id,
        AUDIT_EVENTS.c.audit_id == AUDIT.c.id,
        AUDIT.c.at >= cutoff,
    )
    recent_dead_letter = exists().where(
        DEAD.c.event_id == e.event_id,
        or_(DEAD.c.failed_at >= cutoff, DEAD.c.last_replayed_at >= cutoff),
    )
    return [
        e.received_at < cutoff,
        # Belt and braces for dedupe: Stripe's own creation time is past the horizon too.
        e.event_created < int(cutoff.timestamp()),
        e.status.in_(PRUNABLE_STATUSES),
        ~recent_audit,
        ~recent_dead_letter,
    ]


def next_batch(
    bind: Executor, cutoff: datetime, limit: int, after: Cursor | None = None
) -> list[PrunedEvent]:
    """Lock and read the next `limit` prunable events, oldest first, after `after`."""
    e = EVENTS.c
    terms = _prunable(cutoff)
    if after is not None:
        at, event_id = after
        terms.append(or_(e.received_at > at, and_(e.received_at == at, e.event_id > event_id)))
    rows = bind.execute(
        select(
            e.event_id,
            e.type,
            e.source,
            e.status,
            e.received_at,
            e.event_created,
            e.processed_at,
            e.raw_body,
        )
        .where(*terms)
        .order_by(e.received_at, e.event_id)
        .limit(limit)
        .with_for_update(of=EVENTS, skip_locked=True)
    ).all()
    return [
        PrunedEvent(
            event_id=r.event_id,
            type=r.type,
            source=r.source,
            status=str(r.status),
            received_at=r.received_at,
            event_created=r.event_created,
            processed_at=r.processed_at,
            raw_body=r.raw_body,
        )
        for r in rows
    ]


def delete_events(bind: Executor, event_ids: Sequence[str]) -> PruneCounts:
    """Delete these events (if still finished) with their attempts, dead letters, audit links."""
    counts = PruneCounts()
    if not event_ids:
        return counts
    e = EVENTS.c
    still = select(e.event_id).where(
        e.event_id.in_(list(event_ids)), e.status.in_(PRUNABLE_STATUSES)
    )
    for table, attr in _DEPENDENTS:
        result = bind.execute(delete(table).where(table.c.event_id.in_(still)))
        setattr(counts, attr, int(result.rowcount or 0))  # type: ignore[attr-defined]
    deleted = bind.execute(
        delete(EVENTS)
        .where(e.event_id.in_(list(event_ids)), e.status.in_(PRUNABLE_STATUSES))
        .returning(e.status)
    ).all()
    counts.events.update(str(s) for (s,) in deleted)
    return counts


@dataclass(frozen=True)
class PrunePlan:
    """What a dry run reports: what would go, and what is older than the horizon but kept.

    `kept`: `dead` and `unfinished` events, and `referenced` ones (finished, but replayed
    or dead-lettered within the horizon).
    """

    cutoff: datetime
    prunable: PruneCounts
    kept: dict[str, int]


def plan(bind: Executor, cutoff: datetime) -> PrunePlan:
    """Count what a prune at `cutoff` would delete and what it keeps (and why); no locks."""
    e = EVENTS.c
    prunable = PruneCounts()
    ids = select(e.event_id).where(*_prunable(cutoff))
    for status, n in bind.execute(
        select(e.status, func.count()).where(*_prunable(cutoff)).group_by(e.status)
    ).all():
        prunable.events[str(status)] = int(n)
    for table, attr in _DEPENDENTS:
        n = bind.execute(
            select(func.count()).select_from(table).where(table.c.event_id.in_(ids))
        ).scalar_one()
        setattr(prunable, attr, int(n))
    older: Counter[str] = Counter()
    for status, n in bind.execute(
        select(e.status, func.count()).where(e.received_at < cutoff).group_by(e.status)
    ).all():
        older[str(status)] = int(n)
    finished_older = sum(older[s] for s in PRUNABLE_STATUSES)
    kept = {
        "dead": older[EventStatus.DEAD],
        "unfinished": sum(
            n for s, n in older.items() if s not in PRUNABLE_STATUSES and s != EventStatus.DEAD
        ),
        "referenced": finished_older - prunable.total,
    }
    return PrunePlan(cutoff=cutoff, prunable=prunable, kept=kept)
