"""Attempt history: one row per failed attempt, written in the failure's own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select

from domain.event_log import Executor, Failure
from domain.models import EventAttempt

ATTEMPTS = cast(Table, EventAttempt.__table__)


def record_attempt(
    bind: Executor, event_id: str, attempt: int, failure: Failure, now: datetime
) -> None:
    """Append a failed attempt; replays reset the counter but never delete these rows."""
    failure = failure.scrubbed()
    bind.execute(
        insert(ATTEMPTS).values(
            event_id=event_id,
            attempt=attempt,
            failed_at=now,
            error_type=failure.error_type[:255],
            message=failure.message[:2000],
        )
    )


def attempt_history(bind: Executor, event_id: str) -> list[dict[str, Any]]:
    """Every failed attempt of an event, oldest first."""
    c = ATTEMPTS.c
    rows = bind.execute(
        select(c.attempt, c.failed_at, c.error_type, c.message)
        .where(c.event_id == event_id)
        .order_by(c.id)
    ).mappings()
    return [dict(r) for r in rows]
