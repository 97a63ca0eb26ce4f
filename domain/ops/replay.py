"""Replay SQL: put dead (or, forced, finished) events back in the queue, set-based.

Every change is a conditional UPDATE on the event's current status, so two replays racing
for the same row cannot both win: the loser's UPDATE re-checks the row after the winner
commits, finds it no longer `dead`, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from domain.event_log import DEAD, EVENTS, Executor
from domain.models import EventStatus
from domain.ops.filters import DeadLetterFilter

# Statuses an event may be re-queued from: dead and retrying always, finished ones by force.
REPLAYABLE = frozenset({EventStatus.DEAD, EventStatus.RETRYING})
FORCE_REPLAYABLE = REPLAYABLE | {EventStatus.PROCESSED, EventStatus.IGNORED}


def _requeue_values(now: datetime) -> dict[str, Any]:
    # attempts restart so the event gets a fresh retry budget; event_attempts keeps history.
    # published_at = now: the caller publishes right after commit, and the sweeper only
    # re-publishes if that message is lost (after its grace period).
    return {
        "status": EventStatus.QUEUED,
        "attempts": 0,
        "next_attempt_at": None,
        "lease_token": None,
        "lease_expires_at": None,
        "processed_at": None,
        "published_at": now,
    }


def _dead_join() -> Any:
    return select().select_from(DEAD).join(EVENTS, DEAD.c.event_id == EVENTS.c.event_id)


def dead_letter_bounds(bind: Executor, flt: DeadLetterFilter) -> tuple[int, int]:
    """(count, highest dead-letter id) of dead events matching `flt`, fixed at the start."""
    row = bind.execute(
        _dead_join()
        .add_columns(func.count(), func.coalesce(func.max(DEAD.c.id), 0))
        .where(EVENTS.c.status == EventStatus.DEAD, *flt.conditions())
    ).one()
    return int(row[0]), int(row[1])


def dead_letter_types(bind: Executor, flt: DeadLetterFilter) -> dict[str, int]:
    """How many dead events match `flt`, per event type (what a dry run reports)."""
    rows = bind.execute(
        _dead_join()
        .add_columns(EVENTS.c.type, func.count())
        .where(EVENTS.c.status == EventStatus.DEAD, *flt.conditions())
        .group_by(EVENTS.c.type)
        .order_by(func.count().desc(), EVENTS.c.type)
    ).all()
    return {str(t): int(n) for t, n in rows}


def dead_letter_chunk(
    bind: Executor, flt: DeadLetterFilter, after_id: int, upto_id: int, limit: int
) -> tuple[list[str], int]:
    """Next `limit` matching dead event ids by dead-letter id; returns (ids, last id seen)."""
    rows = bind.execute(
        _dead_join()
        .add_columns(DEAD.c.id, DEAD.c.event_id)
        .where(
            EVENTS.c.status == EventStatus.DEAD,
            DEAD.c.id > after_id,
            DEAD.c.id <= upto_id,
            *flt.conditions(),
        )
        .order_by(DEAD.c.id)
        .limit(limit)
    ).all()
    return [r[1] for r in rows], (rows[-1][0] if rows else upto_id)


def requeue(
    bind: Executor, event_ids: Sequence[str], statuses: Collection[EventStatus], now: datetime
) -> list[tuple[str, str, str]]:
    """Re-queue those of `event_ids` currently in `statuses`; return (id, type, old status).

    The rows are locked first so the previous status is known exactly (RETURNING only sees
    the new values); the UPDATE still re-checks the status under the lock.
    """
    if not event_ids:
        return []
    c = EVENTS.c
    before = dict(
        bind.execute(
            select(c.event_id, c.status)
            .where(c.event_id.in_(list(event_ids)), c.status.in_(list(statuses)))
            .order_by(c.event_id)  # one lock order for every caller: no deadlocks
            .with_for_update()
        ).all()
    )
    if not before:
        return []
    rows = bind.execute(
        update(EVENTS)
        .where(c.event_id.in_(list(before)), c.status.in_(list(statuses)))
        .values(**_requeue_values(now))
        .returning(c.event_id, c.type)
    ).all()
    return [(event_id, event_type, str(before[event_id])) for event_id, event_type in rows]


def mark_dead_letters_replayed(
    bind: Executor, event_ids: Sequence[str], now: datetime, actor: str
) -> None:
    """Count the replay on each dead letter (the row stays as history)."""
    if event_ids:
        bind.execute(
            update(DEAD)
            .where(DEAD.c.event_id.in_(list(event_ids)))
            .values(
                replay_count=DEAD.c.replay_count + 1,
                last_replayed_at=now,
                last_replayed_by=actor[:255],
            )
        )


def statuses_of(bind: Executor, event_ids: Sequence[str]) -> dict[str, str]:
    """Current status of each existing id (to explain what a replay skipped)."""
    c = EVENTS.c
    rows = bind.execute(select(c.event_id, c.status).where(c.event_id.in_(list(event_ids))))
    return {e: str(s) for e, s in rows}
