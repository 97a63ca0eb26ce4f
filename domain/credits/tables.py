"""The credit ledger (append-only entries) and each account's balance row, kept in step."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from domain.models import Base
from domain.types import JSONType, UTCDateTime

ID_LENGTH = 255
EntryId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: the rowid


class EntryKind(StrEnum):
    GRANT = "grant"
    CONSUME = "consume"
    EXPIRE = "expire"
    ADJUST = "adjust"


class EntrySource(StrEnum):
    PERIOD = "period"  # a subscription period's allowance (plan catalog)
    MANUAL = "manual"  # the credits.grant command
    STRIPE_GRANT = "stripe_grant"  # a Stripe Billing credit grant
    GATE = "gate"  # POST /v1/credits/consume


class CreditEntry(Base):
    """One movement of credits; never updated or deleted (the balance is their sum)."""

    __tablename__ = "credit_entries"

    id: Mapped[int] = mapped_column(EntryId, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)  # idempotency id
    account_ref: Mapped[str] = mapped_column(String(ID_LENGTH))
    kind: Mapped[str] = mapped_column(String(16))
    credits: Mapped[int] = mapped_column(BigInteger)  # signed: + grant, - consume/expire
    overage: Mapped[int] = mapped_column(BigInteger, default=0)  # consume beyond the balance
    source: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    subscription_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    # The account's period the entry counts in (granted/consumed/overage "this period").
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answer: Mapped[dict[str, Any] | None] = mapped_column(JSONType)  # a consume's 200 answer
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index("ix_credit_entries_account", "account_ref", "id"),
        Index("ix_credit_entries_subscription", "subscription_id", "period_start"),
        Index("ix_credit_entries_expiring", "source", "expires_at"),  # the expiry step (0015)
    )


class CreditBalance(Base):
    """An account's balance and this period's totals, updated with every entry."""

    __tablename__ = "credit_balances"

    account_ref: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    payg: Mapped[bool] = mapped_column(Boolean, default=False)
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    granted: Mapped[int] = mapped_column(BigInteger, default=0)
    consumed: Mapped[int] = mapped_column(BigInteger, default=0)
    overage: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


ENTRIES: Table = CreditEntry.__table__  # type: ignore[assignment]
BALANCES: Table = CreditBalance.__table__  # type: ignore[assignment]
