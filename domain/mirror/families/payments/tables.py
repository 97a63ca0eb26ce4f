"""The payments group's tables: one per Stripe object, each under its own object's stamps.

`payments` is what the read API lists: one row per payment intent (written by
payment_intent.* events) and one per direct charge, a charge without a payment intent
(written by that charge's own events, with the charge's stamp: such a charge never gains
a payment intent, so the row has one writer). `charges` holds every charge's facts
(receipt, failure, amount refunded) and `invoice_payments` the invoice <-> payment links
of API 2025-03-31 and later; the payment body joins them at read time, so no row is ever
written by another object's events.

Statuses are stored as strings, not a CHECK-constrained enum: a status Stripe adds later
is kept as sent instead of dead-lettering the event (the StrEnums name the known ones).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Table, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from domain.mirror.tables import ID, Stamped
from domain.models import Base
from domain.types import JSONType, UTCDateTime


class PaymentStatus(StrEnum):
    """A payment's status: a payment intent's, or a direct charge's (pending/failed)."""

    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    CANCELED = "canceled"
    SUCCEEDED = "succeeded"
    PENDING = "pending"  # direct charges only
    FAILED = "failed"  # direct charges only


class ChargeStatus(StrEnum):
    """Stripe's charge statuses."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class InvoicePaymentStatus(StrEnum):
    """Stripe's invoice payment statuses."""

    OPEN = "open"
    PAID = "paid"
    CANCELED = "canceled"


class RefundStatus(StrEnum):
    """Stripe's refund statuses."""

    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class DisputeStatus(StrEnum):
    """Stripe's dispute statuses (`warning_*`: an inquiry, no money moved yet)."""

    WARNING_NEEDS_RESPONSE = "warning_needs_response"
    WARNING_UNDER_REVIEW = "warning_under_review"
    WARNING_CLOSED = "warning_closed"
    NEEDS_RESPONSE = "needs_response"
    UNDER_REVIEW = "under_review"
    WON = "won"
    LOST = "lost"
    PREVENTED = "prevented"  # resolved before it became a dispute (e.g. a network alert)
    CHARGE_REFUNDED = "charge_refunded"  # old API versions: closed by refunding the charge


class PaymentObject(StrEnum):
    """Which Stripe object a payment row is."""

    PAYMENT_INTENT = "payment_intent"
    CHARGE = "charge"


STATUS = String(32)


class Payment(Stamped, Base):
    """A payment intent, or a charge made without one (a legacy direct charge)."""

    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(ID, primary_key=True)  # pi_... or the direct charge's id
    object: Mapped[str] = mapped_column(String(16))  # PaymentObject
    stripe_customer_id: Mapped[str | None] = mapped_column(ID)
    status: Mapped[str] = mapped_column(STATUS)  # PaymentStatus, or a newer Stripe status
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    payment_method_type: Mapped[str | None] = mapped_column(String(64))
    failure_code: Mapped[str | None] = mapped_column(String(255))
    failure_message: Mapped[str | None] = mapped_column(Text)
    # Named by the object itself before API 2025-03-31 (else via invoice_payments).
    invoice_id: Mapped[str | None] = mapped_column(ID)
    latest_charge_id: Mapped[str | None] = mapped_column(ID)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancellation_reason: Mapped[str | None] = mapped_column(String(64))
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)

    __table_args__ = (
        Index("ix_payments_customer_created", "stripe_customer_id", "stripe_created"),
    )


class Charge(Stamped, Base):
    """A charge: one attempt to move money, of a payment intent or on its own."""

    __tablename__ = "charges"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    payment_intent_id: Mapped[str | None] = mapped_column(ID, index=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(ID, index=True)
    status: Mapped[str] = mapped_column(STATUS)  # ChargeStatus, or a newer Stripe status
    amount: Mapped[int] = mapped_column(BigInteger)
    amount_captured: Mapped[int | None] = mapped_column(BigInteger)
    amount_refunded: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    paid: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    refunded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    disputed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    payment_method_type: Mapped[str | None] = mapped_column(String(64))
    failure_code: Mapped[str | None] = mapped_column(String(255))
    failure_message: Mapped[str | None] = mapped_column(Text)
    receipt_url: Mapped[str | None] = mapped_column(Text)
    invoice_id: Mapped[str | None] = mapped_column(ID)  # before API 2025-03-31 only
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


class InvoicePayment(Stamped, Base):
    """Links an invoice and a payment (intent or charge): API 2025-03-31 and later."""

    __tablename__ = "invoice_payments"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    invoice_id: Mapped[str | None] = mapped_column(ID, index=True)
    payment_intent_id: Mapped[str | None] = mapped_column(ID, index=True)
    charge_id: Mapped[str | None] = mapped_column(ID, index=True)
    status: Mapped[str] = mapped_column(STATUS)  # InvoicePaymentStatus, or a newer one
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    amount_paid: Mapped[int | None] = mapped_column(BigInteger)
    amount_requested: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


class Refund(Stamped, Base):
    """A refund of a charge (or of a payment intent's charge).

    It names no customer before the newest API versions: the read API finds its account
    through its charge or payment intent at read time (`stripe_customer_id` holds only
    what the refund itself says, so the row never depends on which event came first).
    """

    __tablename__ = "refunds"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    charge_id: Mapped[str | None] = mapped_column(ID, index=True)
    payment_intent_id: Mapped[str | None] = mapped_column(ID, index=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(ID, index=True)
    status: Mapped[str] = mapped_column(STATUS)  # RefundStatus, or a newer Stripe status
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


class Dispute(Stamped, Base):
    """A dispute (chargeback or inquiry) of a charge.

    It names no customer: the read API finds its account through its charge or payment
    intent at read time (see `owners.py`), whichever of their events arrived first.
    """

    __tablename__ = "disputes"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    charge_id: Mapped[str | None] = mapped_column(ID, index=True)
    payment_intent_id: Mapped[str | None] = mapped_column(ID, index=True)
    status: Mapped[str] = mapped_column(STATUS)  # DisputeStatus, or a newer Stripe status
    reason: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    evidence_due_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    evidence_submission_count: Mapped[int] = mapped_column(Integer)
    is_charge_refundable: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


PAYMENTS: Table = Payment.__table__  # type: ignore[assignment]
CHARGES: Table = Charge.__table__  # type: ignore[assignment]
INVOICE_PAYMENTS: Table = InvoicePayment.__table__  # type: ignore[assignment]
REFUNDS: Table = Refund.__table__  # type: ignore[assignment]
DISPUTES: Table = Dispute.__table__  # type: ignore[assignment]
