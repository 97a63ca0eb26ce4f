"""The usage records table: every unit of use the product reports, stored once per id.

Two sources write here: `POST /v1/usage` (metered use the product reports directly) and the
credit gate, when a consumption beyond the balance is billed as pay-as-you-go overage. Both
are deduplicated by the record id (the product's own id, or `overage:<consume id>`), so a
retried request never counts twice. The reporter sends `pending` records to Stripe's
meters and marks them `reported` (or `rejected`, with Stripe's reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, String, Table, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.event_log import dialect_insert
from domain.models import Base
from domain.types import UTCDateTime

ID_LENGTH = 255
METER_LENGTH = 100  # Stripe's meter event_name is at most 100 characters


class UsageSource(StrEnum):
    USAGE = "usage"  # POST /v1/usage
    OVERAGE = "overage"  # the credit gate, pay-as-you-go beyond the balance


class ReportStatus(StrEnum):
    PENDING = "pending"
    REPORTED = "reported"
    REJECTED = "rejected"  # Stripe refused it for good; report_error says why


class UsageRecord(Base):
    """One unit of use of one account on one meter, at one time."""

    __tablename__ = "usage_records"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    account_ref: Mapped[str] = mapped_column(String(ID_LENGTH))
    meter: Mapped[str] = mapped_column(String(METER_LENGTH))  # the meter's event_name
    quantity: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    report_status: Mapped[str] = mapped_column(String(16), default=ReportStatus.PENDING.value)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    report_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))  # the meter event identifier
    report_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_usage_records_report", "report_status", "occurred_at"),
        Index("ix_usage_records_account", "account_ref", "occurred_at"),
    )


USAGE_RECORDS: Table = UsageRecord.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class NewUsage:
    """A usage record as received (already validated)."""

    id: str
    account_ref: str
    meter: str
    quantity: int
    occurred_at: datetime
    source: UsageSource = UsageSource.USAGE


def add_usage(session: Session, records: Sequence[NewUsage], now: datetime) -> set[str]:
    """Store the records not stored before, in the caller's transaction; their ids."""
    if not records:
        return set()
    rows = [
        {
            "id": r.id,
            "account_ref": r.account_ref,
            "meter": r.meter,
            "quantity": r.quantity,
            "occurred_at": r.occurred_at,
            "source": r.source.value,
            "received_at": now,
            "report_status": ReportStatus.PENDING.value,
        }
        for r in records
    ]
    stmt = (
        dialect_insert(session, USAGE_RECORDS)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(USAGE_RECORDS.c.id)
    )
    return set(session.execute(stmt, rows).scalars())
