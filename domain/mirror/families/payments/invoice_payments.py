"""invoice_payment.* events -> `invoice_payments`: which payment paid which invoice.

From API 2025-03-31 an invoice no longer names its charge or payment intent, nor they
their invoice; an invoice_payment object links them (`payment.payment_intent` or
`payment.charge`). The payment body shows the invoice id through this table at read time
(see `read.py`); the payment rows are never written by these events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Incoming, Refs, Row
from domain.mirror.families.payments.shapes import STATUS_LENGTH, short
from domain.mirror.families.payments.tables import InvoicePaymentStatus
from domain.mirror.ordering import tie_rank
from domain.mirror.stripe_json import (
    child,
    currency,
    opt_int,
    ref_id,
    require_id,
    sub,
    ts,
)
from domain.mirror.tables import stamp_columns


@dataclass(frozen=True, slots=True)
class InvoicePaymentView:
    """An invoice payment: the invoice, and the payment intent or charge that pays it."""

    id: str
    invoice_id: str | None
    payment_intent_id: str | None
    charge_id: str | None
    status: str
    is_default: bool
    amount_paid: int | None
    amount_requested: int | None
    currency: str | None
    paid_at: datetime | None
    created: datetime | None
    raw: dict[str, Any] = field(repr=False)


def parse_invoice_payment(
    obj: dict[str, Any], api_version: str | None = None
) -> InvoicePaymentView:
    """Parse an invoice_payment object (it exists only in API 2025-03-31 and later)."""
    payment = child(obj, "payment")
    return InvoicePaymentView(
        id=require_id(obj, "invoice payment"),
        invoice_id=ref_id(obj.get("invoice")),
        payment_intent_id=ref_id(payment.get("payment_intent")),
        charge_id=ref_id(payment.get("charge")),
        status=short(obj.get("status"), STATUS_LENGTH) or InvoicePaymentStatus.OPEN,
        is_default=obj.get("is_default") is True,
        amount_paid=opt_int(obj.get("amount_paid")),
        amount_requested=opt_int(obj.get("amount_requested")),
        currency=currency(obj.get("currency")),
        paid_at=ts(sub(obj, "status_transitions", "paid_at")),
        created=ts(obj.get("created")),
        raw=obj,
    )


def invoice_payment_refs(view: InvoicePaymentView, event: EventEnvelope) -> Refs:
    return Refs(view.id)  # it names no customer; the payment and invoice rows do


# Paid and canceled are final.
INVOICE_PAYMENT_TERMINAL = frozenset({InvoicePaymentStatus.PAID, InvoicePaymentStatus.CANCELED})


def invoice_payment_rank(view: InvoicePaymentView, event_type: str) -> int:
    """Paid / canceled are terminal; open comes first."""
    return tie_rank(terminal=view.status in INVOICE_PAYMENT_TERMINAL, status_rank=0)


def invoice_payment_transition(view: InvoicePaymentView, incoming: Incoming[None]) -> Row:
    """The link's new row."""
    return {
        "id": view.id,
        "invoice_id": view.invoice_id,
        "payment_intent_id": view.payment_intent_id,
        "charge_id": view.charge_id,
        "status": view.status,
        "is_default": view.is_default,
        "amount_paid": view.amount_paid,
        "amount_requested": view.amount_requested,
        "currency": view.currency,
        "paid_at": view.paid_at,
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


EVENT_TYPES = ("invoice_payment.paid",)
