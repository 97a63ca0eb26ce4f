"""The sweeper's queries: find rows the broker may have lost and take them back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update

from domain.event_log import EVENTS, Executor, Failure, mark_dead, schedule_retry
from domain.models import EventStatus
from domain.ops.attempts import record_attempt
from domain.retry import RetryPolicy

LEASE_EXPIRED = Failure(
    error_type="LeaseExpired",
    message="the worker holding this event died or overran its lease",
    traceback="",
)


@dataclass
class SweepResult:
    """What one sweep did: ids to publish again, leases given up, events now dead."""

    republish: list[str] = field(default_factory=list)
    expired: int = 0
    dead: int = 0
    # Event types of the expired leases (for the retries/dead-letter metrics of the caller).
    retried_types: list[str] = field(default_factory=list)
    dead_types: list[str] = field(default_factory=list)


def _republish(bind: Executor, condition: object, now: datetime, limit: int) -> list[str]:
    c = EVENTS.c
    ids = list(
        bind.execute(
            select(c.event_id)
            .where(condition)  # type: ignore[arg-type]
            .order_by(c.received_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    if ids:
        bind.execute(
            update(EVENTS)
            .where(c.event_id.in_(ids))
            .values(status=EventStatus.QUEUED, published_at=now)
        )
    return ids


def sweep(
    bind: Executor, now: datetime, grace: timedelta, policy: RetryPolicy, limit: int
) -> SweepResult:
    """Take back lost work: stale received/queued rows, expired leases, due retries."""
    c = EVENTS.c
    result = SweepResult()

    # A lease that ran out counts as a failed attempt, so an event that kills its worker
    # every time ends in the dead-letter table instead of looping forever.
    expired = bind.execute(
        select(c.event_id, c.attempts, c.type)
        .where(c.status == EventStatus.PROCESSING, c.lease_expires_at < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for event_id, attempts, event_type in expired:
        attempt = attempts + 1
        record_attempt(bind, event_id, attempt, LEASE_EXPIRED, now)
        if policy.exhausted(attempt):
            mark_dead(bind, event_id, attempt, LEASE_EXPIRED, now)
            result.dead += 1
            result.dead_types.append(event_type)
        else:
            due = now + timedelta(seconds=policy.delay(attempt))
            schedule_retry(bind, event_id, attempt, due, LEASE_EXPIRED.summary)
            result.retried_types.append(event_type)
        result.expired += 1

    stale = and_(
        c.status.in_([EventStatus.RECEIVED, EventStatus.QUEUED]),
        c.received_at < now - grace,
        or_(c.published_at.is_(None), c.published_at < now - grace),
    )
    result.republish += _republish(bind, stale, now, limit)
    due_retry = and_(c.status == EventStatus.RETRYING, c.next_attempt_at <= now)
    result.republish += _republish(bind, due_retry, now, limit)
    return result


def backlog(bind: Executor) -> dict[str, int]:
    """Count of events per non-terminal status."""
    c = EVENTS.c
    rows = bind.execute(
        select(c.status, func.count())
        .where(c.status.notin_([EventStatus.PROCESSED, EventStatus.IGNORED, EventStatus.DEAD]))
        .group_by(c.status)
    ).all()
    return {str(status): int(count) for status, count in rows}
