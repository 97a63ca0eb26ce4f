"""payment_intent.* events -> the `payments` rows of payment intents.

A payment intent is the payment; its charges (one per attempt) are the charges family's
rows, joined at read time (see `read.py`). Both API shapes: before 2025-03-31 the intent
names its `invoice`, later the invoice_payments family links them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Incoming, Refs, Row
from domain.mirror.families.payments.shapes import (
    NAME_LENGTH,
    STATUS_LENGTH,
    Failure,
    intent_failure,
    intent_method_type,
    payment_shape,
    short,
)
from domain.mirror.families.payments.tables import PaymentObject, PaymentStatus
from domain.mirror.ordering import tie_rank
from domain.mirror.stripe_json import (
    ApiShape,
    ViewError,
    currency,
    opt_int,
    ref_id,
    require_id,
    ts,
)
from domain.mirror.tables import stamp_columns


@dataclass(frozen=True, slots=True)
class IntentView:
    """A payment intent; `status` is Stripe's, kept as sent when it is a newer one."""

    id: str
    customer_id: str | None
    status: str
    amount: int
    currency: str
    payment_method_type: str | None
    failure: Failure
    invoice_id: str | None
    latest_charge_id: str | None
    canceled_at: datetime | None
    cancellation_reason: str | None
    created: datetime | None
    shape: ApiShape
    raw: dict[str, Any] = field(repr=False)


def parse_intent(obj: dict[str, Any], api_version: str | None = None) -> IntentView:
    """Parse a payment_intent object in either API shape."""
    code = currency(obj.get("currency"))
    if code is None:
        raise ViewError("payment intent without a currency")
    return IntentView(
        id=require_id(obj, "payment intent"),
        customer_id=ref_id(obj.get("customer")),
        status=short(obj.get("status"), STATUS_LENGTH) or PaymentStatus.REQUIRES_PAYMENT_METHOD,
        amount=opt_int(obj.get("amount")) or 0,
        currency=code,
        payment_method_type=intent_method_type(obj),
        failure=intent_failure(obj),
        invoice_id=ref_id(obj.get("invoice")),
        latest_charge_id=ref_id(obj.get("latest_charge")),
        canceled_at=ts(obj.get("canceled_at")),
        cancellation_reason=short(obj.get("cancellation_reason"), NAME_LENGTH),
        created=ts(obj.get("created")),
        shape=payment_shape(obj, api_version),
        raw=obj,
    )


def intent_refs(view: IntentView, event: EventEnvelope) -> Refs:
    return Refs(view.id, view.customer_id)


# Lifecycle positions for same-second ties. A failed attempt returns the intent to
# requires_payment_method *with* an error: it comes after processing (SEPA fails late).
INTENT_RANK: dict[str, int] = {
    PaymentStatus.REQUIRES_PAYMENT_METHOD: 0,
    PaymentStatus.REQUIRES_CONFIRMATION: 1,
    PaymentStatus.REQUIRES_ACTION: 2,
    PaymentStatus.PROCESSING: 3,
    PaymentStatus.REQUIRES_CAPTURE: 5,
    PaymentStatus.SUCCEEDED: 6,
    PaymentStatus.CANCELED: 6,
}
FAILED_ATTEMPT_RANK = 4
# Stripe never moves a payment intent out of these.
INTENT_TERMINAL = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED})


def intent_failed(view: IntentView) -> bool:
    """Back at requires_payment_method because an attempt failed."""
    failed = view.failure != Failure()
    return view.status == PaymentStatus.REQUIRES_PAYMENT_METHOD and failed


def intent_rank(view: IntentView, event_type: str) -> int:
    """Terminal status, then the lifecycle position (an unknown status ranks first)."""
    position = FAILED_ATTEMPT_RANK if intent_failed(view) else INTENT_RANK.get(view.status, 0)
    return tie_rank(terminal=view.status in INTENT_TERMINAL, status_rank=position)


def intent_transition(view: IntentView, incoming: Incoming[None]) -> Row:
    """The payment's new row, from the payment intent."""
    return {
        "id": view.id,
        "object": PaymentObject.PAYMENT_INTENT,
        "stripe_customer_id": view.customer_id,
        "status": view.status,
        "amount": view.amount,
        "currency": view.currency,
        "payment_method_type": view.payment_method_type,
        "failure_code": view.failure.code,
        "failure_message": view.failure.message,
        "invoice_id": view.invoice_id,
        "latest_charge_id": view.latest_charge_id,
        "canceled_at": view.canceled_at,
        "cancellation_reason": view.cancellation_reason,
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


EVENT_TYPES = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.canceled",
)
