"""Notification outbox reads and delivery bookkeeping (SQL only; the HTTP call lives in workers).

Delivery is at least once. A worker claims due rows with `FOR UPDATE SKIP LOCKED`, counts
the attempt and pushes `next_attempt_at` one lease ahead in a short transaction, then posts
outside any transaction. If it dies mid-post the lease runs out and another worker retries;
counting at claim time means even a crash loop ends in `dead`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from domain.mirror.outbox import Notification
from domain.mirror.statuses import DeliveryStatus
from domain.retry import RetryPolicy

DUE = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)


def notification_body(n: Notification) -> dict[str, Any]:
    """The JSON a product sees for one notification (read API item and POST body alike)."""
    return {
        "id": n.id,
        "kind": n.kind,
        "account_ref": n.account_ref,
        "stripe_customer_id": n.stripe_customer_id,
        "object_type": n.object_type,
        "object_id": n.object_id,
        "event_id": n.event_id,
        "event_created": n.event_created,
        # Same UTC form as every other timestamp the API returns.
        "created_at": n.created_at.isoformat().replace("+00:00", "Z"),
        "data": n.payload,
    }


def list_notifications(
    session: Session, *, after: int = 0, limit: int = 20, account_ref: str | None = None
) -> list[Notification]:
    """Notifications with id > `after`, oldest first."""
    stmt = select(Notification).where(Notification.id > after)
    if account_ref is not None:
        stmt = stmt.where(Notification.account_ref == account_ref)
    return list(session.execute(stmt.order_by(Notification.id).limit(limit)).scalars())


@dataclass(frozen=True, slots=True)
class Claimed:
    """A notification leased to one delivery attempt."""

    id: int
    attempts: int
    body: dict[str, Any]


def has_due(session: Session, now: datetime) -> bool:
    """Is any notification waiting for delivery? (cheap check before triggering a worker)"""
    found = session.execute(
        select(Notification.id)
        .where(Notification.delivery_status.in_(DUE), Notification.next_attempt_at <= now)
        .limit(1)
    ).first()
    return found is not None


def claim_due(session: Session, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
    """Lease up to `limit` due notifications, oldest first, skipping rows others hold."""
    rows = list(
        session.execute(
            select(Notification)
            .where(Notification.delivery_status.in_(DUE), Notification.next_attempt_at <= now)
            .order_by(Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + lease
    session.flush()
    return [Claimed(row.id, row.attempts, notification_body(row)) for row in rows]


def release(session: Session, claimed: list[Claimed], now: datetime) -> None:
    """Give back rows claimed but not attempted (time ran out): due now, attempt not counted."""
    for item in claimed:
        session.execute(
            update(Notification)
            .where(Notification.id == item.id, Notification.attempts == item.attempts)
            .values(attempts=item.attempts - 1, next_attempt_at=now)
        )


def mark_delivered(session: Session, notification_id: int, now: datetime) -> None:
    """The receiver answered 2xx."""
    session.execute(
        update(Notification)
        .where(Notification.id == notification_id)
        .values(
            delivery_status=DeliveryStatus.DELIVERED,
            delivered_at=now,
            next_attempt_at=None,
            last_error=None,
        )
    )


def mark_failed(
    session: Session,
    notification_id: int,
    attempts: int,
    error: str,
    now: datetime,
    policy: RetryPolicy,
) -> DeliveryStatus:
    """Schedule the next attempt with backoff, or give up (`dead`) when attempts run out."""
    dead = policy.exhausted(attempts)
    status = DeliveryStatus.DEAD if dead else DeliveryStatus.RETRYING
    session.execute(
        update(Notification)
        # A slower twin attempt may have delivered it meanwhile; never undo that.
        .where(
            Notification.id == notification_id,
            Notification.delivery_status != DeliveryStatus.DELIVERED,
        )
        .values(
            delivery_status=status,
            next_attempt_at=None if dead else now + timedelta(seconds=policy.delay(attempts)),
            last_error=error[:500],
        )
    )
    return status
