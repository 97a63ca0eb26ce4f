"""The subscriptions and subscription_items tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from domain.mirror.statuses import SubscriptionStatus, enum_type
from domain.mirror.tables import ID, Stamped
from domain.models import Base
from domain.types import JSONType, UTCDateTime


class Subscription(Stamped, Base):
    """A Stripe subscription; tier and interval come from the plan catalog via its price."""

    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(ID, index=True)
    status: Mapped[SubscriptionStatus] = mapped_column(
        enum_type(SubscriptionStatus, "subscription_status", 32)
    )
    price_id: Mapped[str | None] = mapped_column(ID)
    plan_tier: Mapped[str] = mapped_column(String(64))
    plan_interval: Mapped[str | None] = mapped_column(String(16))
    quantity: Mapped[int | None] = mapped_column(Integer)
    unit_amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    current_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean)
    cancel_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    trial_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    trial_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    default_payment_method_id: Mapped[str | None] = mapped_column(ID)
    latest_invoice_id: Mapped[str | None] = mapped_column(ID)
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


class SubscriptionItem(Stamped, Base):
    """One price line of a subscription, replaced as a set whenever the subscription is."""

    __tablename__ = "subscription_items"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    subscription_id: Mapped[str] = mapped_column(
        ID, ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    price_id: Mapped[str | None] = mapped_column(ID)
    plan_tier: Mapped[str] = mapped_column(String(64))
    plan_interval: Mapped[str | None] = mapped_column(String(16))
    quantity: Mapped[int | None] = mapped_column(Integer)
    unit_amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    current_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


SUBSCRIPTIONS: Table = Subscription.__table__  # type: ignore[assignment]
ITEMS: Table = SubscriptionItem.__table__  # type: ignore[assignment]
