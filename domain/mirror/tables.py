"""Tables of the billing mirror: accounts, subscriptions (+ items), invoices, payment methods,
checkout sessions. Every mirrored row keeps the stamp of the event that last wrote it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.mirror.statuses import (
    CheckoutPaymentStatus,
    CheckoutStatus,
    InvoiceStatus,
    PaymentMethodStatus,
    SubscriptionStatus,
    enum_type,
)
from domain.models import Base
from domain.types import JSONType, UTCDateTime

ID = String(255)


class Stamped:
    """The ordering stamp: (event created, tie rank, event id) of the last applied event."""

    last_event_created: Mapped[int] = mapped_column(BigInteger)
    last_event_rank: Mapped[int] = mapped_column(Integer)
    last_event_id: Mapped[str] = mapped_column(ID)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


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


class Invoice(Stamped, Base):
    """A Stripe invoice (never created from `invoice.upcoming`, which has no id)."""

    __tablename__ = "invoices"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(ID)
    subscription_id: Mapped[str | None] = mapped_column(ID, index=True)
    number: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[InvoiceStatus] = mapped_column(enum_type(InvoiceStatus, "invoice_status", 16))
    currency: Mapped[str] = mapped_column(String(3))
    amount_due: Mapped[int] = mapped_column(BigInteger)
    amount_paid: Mapped[int] = mapped_column(BigInteger)
    amount_remaining: Mapped[int] = mapped_column(BigInteger)
    subtotal: Mapped[int | None] = mapped_column(BigInteger)
    total: Mapped[int | None] = mapped_column(BigInteger)
    billing_reason: Mapped[str | None] = mapped_column(String(64))
    hosted_invoice_url: Mapped[str | None] = mapped_column(Text)
    invoice_pdf: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempt_count: Mapped[int] = mapped_column(Integer)
    next_payment_attempt: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_date: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)

    __table_args__ = (
        Index("ix_invoices_customer_created", "stripe_customer_id", "stripe_created"),
    )


class PaymentMethod(Stamped, Base):
    """A card, SEPA debit or iDEAL payment method of a customer."""

    __tablename__ = "payment_methods"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    # Kept after detach (from previous_attributes) so the row stays findable per customer.
    stripe_customer_id: Mapped[str | None] = mapped_column(ID, index=True)
    status: Mapped[PaymentMethodStatus] = mapped_column(
        enum_type(PaymentMethodStatus, "payment_method_status", 16)
    )
    type: Mapped[str] = mapped_column(String(64))
    card_brand: Mapped[str | None] = mapped_column(String(32))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    card_exp_month: Mapped[int | None] = mapped_column(Integer)
    card_exp_year: Mapped[int | None] = mapped_column(Integer)
    bank_code: Mapped[str | None] = mapped_column(String(64))
    bank_last4: Mapped[str | None] = mapped_column(String(4))
    bank_country: Mapped[str | None] = mapped_column(String(2))
    ideal_bank: Mapped[str | None] = mapped_column(String(64))
    ideal_bic: Mapped[str | None] = mapped_column(String(16))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


class CheckoutSession(Stamped, Base):
    """A Stripe Checkout session; its client_reference_id links a customer to an account."""

    __tablename__ = "checkout_sessions"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_ref: Mapped[str | None] = mapped_column(ID, index=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(ID)
    subscription_id: Mapped[str | None] = mapped_column(ID)
    mode: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[CheckoutStatus | None] = mapped_column(
        enum_type(CheckoutStatus, "checkout_status", 16)
    )
    payment_status: Mapped[CheckoutPaymentStatus | None] = mapped_column(
        enum_type(CheckoutPaymentStatus, "checkout_payment_status", 32)
    )
    amount_total: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)
