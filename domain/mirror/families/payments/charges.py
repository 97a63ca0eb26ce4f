"""charge.* events -> `charges` rows, and the `payments` row of a direct charge.

charge.refunded is a charge event too: it writes the charge (its amount refunded) and, in
API versions before 2022-11-15, the refunds it embeds (see `refunds.embedded_refund_rows`).

A charge made by a payment intent is one attempt of that payment: its facts (receipt,
failure, amount refunded) are shown on the intent's payment row at read time. A charge
without a payment intent (the legacy Charges API) is itself the payment: the same event
also writes its `payments` row, under the same stamp. That row has no other writer (a
charge's `payment_intent` is fixed when it is created), so its order is the charge's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Incoming, Refs, Row
from domain.mirror.families.payments.refunds import embedded_refund_rows
from domain.mirror.families.payments.shapes import (
    STATUS_LENGTH,
    Failure,
    charge_failure,
    charge_method_type,
    payment_shape,
    short,
)
from domain.mirror.families.payments.tables import (
    CHARGES,
    PAYMENTS,
    REFUNDS,
    ChargeStatus,
    PaymentObject,
)
from domain.mirror.ordering import tie_rank
from domain.mirror.store import upsert_stamped
from domain.mirror.stripe_json import (
    ApiShape,
    ViewError,
    currency,
    list_data,
    opt_int,
    opt_str,
    ref_id,
    require_id,
    ts,
)
from domain.mirror.tables import STAMP_COLUMNS, stamp_columns
from domain.mirror.unit import Unit


@dataclass(frozen=True, slots=True)
class ChargeView:
    """A charge; `refunds` are the refund objects it embeds (API versions before 2022-11-15)."""

    id: str
    payment_intent_id: str | None
    customer_id: str | None
    status: str
    amount: int
    amount_captured: int | None
    amount_refunded: int
    currency: str
    paid: bool
    refunded: bool
    disputed: bool
    payment_method_type: str | None
    failure: Failure
    receipt_url: str | None
    invoice_id: str | None
    created: datetime | None
    shape: ApiShape
    refunds: tuple[dict[str, Any], ...] = field(repr=False)
    raw: dict[str, Any] = field(repr=False)


def parse_charge(obj: dict[str, Any], api_version: str | None = None) -> ChargeView:
    """Parse a charge object in either API shape."""
    code = currency(obj.get("currency"))
    if code is None:
        raise ViewError("charge without a currency")
    status = short(obj.get("status"), STATUS_LENGTH)
    if status is None:  # very old charges have only `paid`
        status = ChargeStatus.SUCCEEDED if obj.get("paid") is True else ChargeStatus.PENDING
    return ChargeView(
        id=require_id(obj, "charge"),
        payment_intent_id=ref_id(obj.get("payment_intent")),
        customer_id=ref_id(obj.get("customer")),
        status=status,
        amount=opt_int(obj.get("amount")) or 0,
        amount_captured=opt_int(obj.get("amount_captured")),
        amount_refunded=opt_int(obj.get("amount_refunded")) or 0,
        currency=code,
        paid=obj.get("paid") is True,
        refunded=obj.get("refunded") is True,
        disputed=obj.get("disputed") is True,
        payment_method_type=charge_method_type(obj),
        failure=charge_failure(obj),
        receipt_url=opt_str(obj.get("receipt_url")),
        invoice_id=ref_id(obj.get("invoice")),
        created=ts(obj.get("created")),
        shape=payment_shape(obj, api_version),
        refunds=tuple(list_data(obj.get("refunds"))),
        raw=obj,
    )


def charge_refs(view: ChargeView, event: EventEnvelope) -> Refs:
    return Refs(view.id, view.customer_id)


CHARGE_RANK: dict[str, int] = {
    ChargeStatus.PENDING: 0,
    ChargeStatus.SUCCEEDED: 1,
    ChargeStatus.FAILED: 2,
}


def charge_rank(view: ChargeView, event_type: str) -> int:
    """Failed is terminal; then pending < succeeded; then how much of it is refunded
    (in thousandths of the amount, so a later refund of the same second wins), disputed."""
    share = view.amount_refunded * 1000 // view.amount if view.amount > 0 else 0
    progress = min(share, 1000) * 2 + (1 if view.disputed else 0)
    return tie_rank(
        terminal=view.status == ChargeStatus.FAILED,
        status_rank=CHARGE_RANK.get(view.status, 0),  # a newer Stripe status ranks first
        progress=progress,
    )


def charge_transition(view: ChargeView, incoming: Incoming[None]) -> Row:
    """The charge's new row."""
    return {
        "id": view.id,
        "payment_intent_id": view.payment_intent_id,
        "stripe_customer_id": view.customer_id,
        "status": view.status,
        "amount": view.amount,
        "amount_captured": view.amount_captured,
        "amount_refunded": view.amount_refunded,
        "currency": view.currency,
        "paid": view.paid,
        "refunded": view.refunded,
        "disputed": view.disputed,
        "payment_method_type": view.payment_method_type,
        "failure_code": view.failure.code,
        "failure_message": view.failure.message,
        "receipt_url": view.receipt_url,
        "invoice_id": view.invoice_id,
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


def direct_payment_row(charge: Row) -> Row | None:
    """The `payments` row of a charge made without a payment intent (else None)."""
    if charge["payment_intent_id"] is not None:
        return None
    return {
        "id": charge["id"],
        "object": PaymentObject.CHARGE,
        "stripe_customer_id": charge["stripe_customer_id"],
        "status": charge["status"],
        "amount": charge["amount"],
        "currency": charge["currency"],
        "payment_method_type": charge["payment_method_type"],
        "failure_code": charge["failure_code"],
        "failure_message": charge["failure_message"],
        "invoice_id": charge["invoice_id"],
        "latest_charge_id": charge["id"],
        "canceled_at": None,
        "cancellation_reason": None,
        "stripe_created": charge["stripe_created"],
        "raw": charge["raw"],
        **{c: charge[c] for c in STAMP_COLUMNS},
    }


def write_charge(unit: Unit, row: Row, now: datetime) -> None:
    """Upsert the charge; a direct charge's payment row too (both guarded by the stamp)."""
    upsert_stamped(unit, CHARGES, row, now)
    payment = direct_payment_row(row)
    if payment is not None:
        upsert_stamped(unit, PAYMENTS, payment, now)
    for refund in embedded_refund_rows(row, list_data(row["raw"].get("refunds"))):
        upsert_stamped(unit, REFUNDS, refund, now)


# charge.refunded is this family's: its object is the charge (amount refunded, and in
# API versions before 2022-11-15 its refunds, written with `embedded_refund_rows`).
EVENT_TYPES = ("charge.succeeded", "charge.failed", "charge.refunded")
