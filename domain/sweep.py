"""The sweeper's queries: find rows the broker may have lost and take them back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, literal, or_, select, update

from domain.event_log import EVENTS, Executor, Failure, mark_dead, schedule_retry
from domain.models import EventStatus
from domain.ops.attempts import record_attempt
from domain.queue_wait import SAMPLE_SIZE, WINDOW, QueueEstimate, estimate, lost_after
from domain.retry import RetryPolicy

# The backlog is counted for the log only; past this many rows the count stops (and costs).
BACKLOG_COUNT_LIMIT = 100_000

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
    # The queue as this sweep saw it, and the age past which a queued row counted as lost.
    estimate: QueueEstimate = field(default_factory=lambda: QueueEstimate(0, 0.0, 0.0))
    lost_after_s: float = 0.0
    # How many of `republish` were `queued` rows whose message was taken for lost.
    lost: int = 0


def _republish(bind: Executor, condition: object, now: datetime, limit: int) -> list[str]:
    if limit <= 0:
        return []
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


def queue_estimate(bind: Executor, now: datetime) -> QueueEstimate:
    """Two index reads: the latest finished events (domain.queue_wait) and the backlog."""
    c = EVENTS.c
    finished = bind.execute(
        select(c.processed_at, c.published_at)
        .where(c.processed_at > now - WINDOW)
        .order_by(c.processed_at.desc())
        .limit(SAMPLE_SIZE)
    ).all()
    queued = (
        select(literal(1)).where(c.status == EventStatus.QUEUED).limit(BACKLOG_COUNT_LIMIT)
    ).subquery()
    backlog = bind.execute(select(func.count()).select_from(queued)).scalar_one()
    return estimate([(p, q) for p, q in finished], int(backlog), now)


def sweep(
    bind: Executor,
    now: datetime,
    grace: timedelta,
    policy: RetryPolicy,
    limit: int,
    *,
    max_wait: timedelta,
) -> SweepResult:
    """Take back lost work: stale received/queued rows, expired leases, due retries.

    A `received` row (never published) is stale after `grace`; a `queued` one only once its
    message is taken for lost: `grace` plus the queue's current wait, at most `max_wait`
    (domain.queue_wait), so a backlog that is only slow to drain is not published again.
    """
    c = EVENTS.c
    result = SweepResult(estimate=queue_estimate(bind, now))
    lost = timedelta(
        seconds=lost_after(result.estimate, grace.total_seconds(), max_wait.total_seconds())
    )
    result.lost_after_s = lost.total_seconds()

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

    unpublished = and_(
        c.status == EventStatus.RECEIVED,
        c.received_at < now - grace,
        or_(c.published_at.is_(None), c.published_at < now - grace),
    )
    result.republish += _republish(bind, unpublished, now, limit)
    # A row is published after it is received, so `received_at` bounds the index range too:
    # a deep backlog that is only waiting is not walked row by row.
    lost_message = and_(
        c.status == EventStatus.QUEUED,
        c.received_at < now - lost,
        or_(c.published_at.is_(None), c.published_at < now - lost),
    )
    taken = _republish(bind, lost_message, now, limit - len(result.republish))
    result.republish += taken
    result.lost = len(taken)
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
