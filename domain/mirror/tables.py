"""What the mirror's tables share: the ordering stamp columns, and the account hub.

Each Stripe object family declares its own tables in its module (domain.mirror.families);
the billing account is no family's: checkouts link it, customer events write its details,
notifications and the read API find the account through it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from domain.mirror.ordering import Stamp
from domain.models import Base
from domain.types import JSONType, UTCDateTime

ID = String(255)


class Stamped:
    """The ordering stamp: (event created, tie rank, event id) of the last applied event."""

    last_event_created: Mapped[int] = mapped_column(BigInteger)
    last_event_rank: Mapped[int] = mapped_column(Integer)
    last_event_id: Mapped[str] = mapped_column(ID)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


STAMP_COLUMNS = ("last_event_created", "last_event_rank", "last_event_id")


def stamp_columns(stamp: Stamp) -> dict[str, Any]:
    """The stamp as the values of a row's stamp columns."""
    return {
        "last_event_created": stamp.created,
        "last_event_rank": stamp.rank,
        "last_event_id": stamp.event_id,
    }


class BillingAccount(Base):
    """The product's account and the Stripe customer it is linked to (either may come first)."""

    __tablename__ = "billing_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_ref: Mapped[str | None] = mapped_column(ID, unique=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(ID, unique=True)
    email: Mapped[str | None] = mapped_column(String(512))
    name: Mapped[str | None] = mapped_column(String(512))
    company_name: Mapped[str | None] = mapped_column(String(512))
    vat_number: Mapped[str | None] = mapped_column(String(64))
    kvk_number: Mapped[str | None] = mapped_column(String(64))
    address_line1: Mapped[str | None] = mapped_column(String(512))
    address_line2: Mapped[str | None] = mapped_column(String(512))
    postal_code: Mapped[str | None] = mapped_column(String(64))
    city: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(2))
    currency: Mapped[str | None] = mapped_column(String(3))
    default_payment_method_id: Mapped[str | None] = mapped_column(ID)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Null until a customer.* event has written the details (a checkout can link first).
    last_event_created: Mapped[int | None] = mapped_column(BigInteger)
    last_event_rank: Mapped[int | None] = mapped_column(Integer)
    last_event_id: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint(
            "account_ref IS NOT NULL OR stripe_customer_id IS NOT NULL", name="identified"
        ),
    )
