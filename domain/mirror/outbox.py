"""The notifications outbox: rows written in the handler's transaction, delivered later."""

from __future__ import annotations

import functools
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.mirror.statuses import DeliveryStatus, enum_type
from domain.mirror.tables import BillingAccount
from domain.models import Base
from domain.types import JSONType, UTCDateTime

KIND_LENGTH = 40
# SQLite only auto-increments an INTEGER PRIMARY KEY; Postgres gets a bigserial cursor.
CursorId = BigInteger().with_variant(Integer(), "sqlite")


class Notification(Base):
    """One thing the product should hear about; `id` is the read cursor."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(CursorId, primary_key=True, autoincrement=True)
    # Any family's kind (each declares its own StrEnum of kinds; migration 0006).
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    account_ref: Mapped[str | None] = mapped_column(String(255))
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(255))
    event_id: Mapped[str] = mapped_column(String(255))
    event_created: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivery_status: Mapped[DeliveryStatus] = mapped_column(
        enum_type(DeliveryStatus, "delivery_status", 16),
        default=DeliveryStatus.PENDING,
        server_default=DeliveryStatus.PENDING.value,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # Replaying an event must never notify twice.
        UniqueConstraint("event_id", "kind"),
        Index("ix_notifications_account_ref_id", "account_ref", "id"),
        Index(
            "ix_notifications_due",
            "next_attempt_at",
            postgresql_where=text("delivery_status IN ('pending', 'retrying')"),
            sqlite_where=text("delivery_status IN ('pending', 'retrying')"),
        ),
    )


NOTIFICATIONS: Table = Notification.__table__  # type: ignore[assignment]


def add_notification(
    session: Session,
    *,
    kind: StrEnum,
    event_id: str,
    event_created: int,
    object_type: str,
    object_id: str | None,
    customer_id: str | None,
    payload: dict[str, Any],
    now: datetime,
) -> None:
    """INSERT ... ON CONFLICT DO NOTHING, in the caller's transaction.

    The row's account_ref is the account linked to the customer at this moment, looked up
    inside the INSERT (no extra round trip).
    """
    values = {
        "kind": kind,
        "event_id": event_id,
        "event_created": event_created,
        "object_type": object_type,
        "object_id": object_id,
        "stripe_customer_id": customer_id,
        "payload": payload,
        "created_at": now,
        "delivery_status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "linked_customer": customer_id,
    }
    session.execute(_insert_notification(session.get_bind().dialect.name), values)


@functools.cache
def _insert_notification(dialect: str) -> Any:
    # Built once per dialect (this runs for a quarter of the events); the other columns
    # come from the parameters.
    accounts = BillingAccount.__table__.c
    linked = (
        select(accounts.account_ref)
        .where(accounts.stripe_customer_id == bindparam("linked_customer"))
        .scalar_subquery()
    )
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(NOTIFICATIONS)
        .values(account_ref=linked)
        .on_conflict_do_nothing(index_elements=["event_id", "kind"])
    )
