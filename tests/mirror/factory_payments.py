"""Payment intents, charges, invoice payments, refunds and disputes for the tests, built
from Stripe's example objects (domain/fixtures/fixtures3.json) in either API shape.

Before API 2025-03-31 payment intents and charges carry `invoice`; later they do not (an
`invoice_payment` links them). Charges embed their `refunds` list only when asked (API
versions before 2022-11-15 did; later ones do not expand it).
"""

from __future__ import annotations

from typing import Any

from domain.mirror.stripe_json import ApiShape
from domain.samples import example_object

T_CREATED = 1_700_000_000


def _shape_invoice(obj: dict[str, Any], shape: ApiShape, invoice: str | None) -> None:
    if shape is ApiShape.LEGACY:
        obj["invoice"] = invoice
    else:
        obj.pop("invoice", None)


def payment_intent(
    pi_id: str,
    customer: str | None,
    status: str,
    *,
    shape: ApiShape = ApiShape.CURRENT,
    amount: int = 2900,
    currency: str = "eur",
    invoice: str | None = None,
    latest_charge: str | None = None,
    error: dict[str, Any] | None = None,
    method_types: tuple[str, ...] = ("card",),
    created: int = T_CREATED,
) -> dict[str, Any]:
    """A payment intent; `error` is its last_payment_error."""
    obj = example_object("payment_intent")
    obj.update(
        id=pi_id,
        customer=customer,
        status=status,
        amount=amount,
        amount_received=amount if status == "succeeded" else 0,
        currency=currency,
        latest_charge=latest_charge,
        last_payment_error=error,
        next_action={"type": "use_stripe_sdk"} if status == "requires_action" else None,
        canceled_at=created + 60 if status == "canceled" else None,
        cancellation_reason="abandoned" if status == "canceled" else None,
        payment_method_types=list(method_types),
        created=created,
    )
    _shape_invoice(obj, shape, invoice)
    return obj


def card_error(
    code: str = "card_declined", message: str = "Your card was declined."
) -> dict[str, Any]:
    """A last_payment_error as Stripe sends it (with the card's billing details inside)."""
    return {
        "type": "card_error",
        "code": code,
        "decline_code": "insufficient_funds",
        "message": message,
        "payment_method": {
            "id": "pm_err",
            "object": "payment_method",
            "type": "card",
            "billing_details": {"name": "Jenny Rosen", "email": "jenny@example.com"},
        },
    }


def charge(
    ch_id: str,
    customer: str | None,
    status: str = "succeeded",
    *,
    shape: ApiShape = ApiShape.CURRENT,
    payment_intent: str | None = None,
    amount: int = 2900,
    currency: str = "eur",
    amount_refunded: int = 0,
    invoice: str | None = None,
    failure: tuple[str, str] | None = None,
    refunds: list[dict[str, Any]] | None = None,
    disputed: bool = False,
    created: int = T_CREATED,
) -> dict[str, Any]:
    """A charge (of a payment intent, or direct when `payment_intent` is None)."""
    obj = example_object("charge")
    obj.update(
        id=ch_id,
        customer=customer,
        status=status,
        paid=status == "succeeded",
        captured=status == "succeeded",
        amount=amount,
        amount_captured=amount if status == "succeeded" else 0,
        amount_refunded=amount_refunded,
        refunded=amount_refunded >= amount,
        currency=currency,
        payment_intent=payment_intent,
        failure_code=failure[0] if failure else None,
        failure_message=failure[1] if failure else None,
        disputed=disputed,
        receipt_url=f"https://pay.stripe.com/receipts/{ch_id}",
        created=created,
    )
    if refunds is None:
        obj.pop("refunds", None)
    else:
        obj["refunds"] = {"object": "list", "data": refunds, "has_more": False}
    _shape_invoice(obj, shape, invoice)
    return obj


def invoice_payment(
    ip_id: str,
    invoice: str,
    *,
    payment_intent: str | None = None,
    charge_id: str | None = None,
    status: str = "paid",
    amount: int = 2900,
    created: int = T_CREATED,
) -> dict[str, Any]:
    """An invoice payment linking `invoice` to a payment intent (or a charge)."""
    obj = example_object("invoice_payment")
    if payment_intent is not None:
        payment: dict[str, str | None] = {
            "type": "payment_intent",
            "payment_intent": payment_intent,
        }
    else:
        payment = {"type": "charge", "charge": charge_id}
    obj.update(
        id=ip_id,
        invoice=invoice,
        payment=payment,
        status=status,
        amount_paid=amount if status == "paid" else None,
        amount_requested=amount,
        currency="eur",
        is_default=True,
        created=created,
        status_transitions={"canceled_at": None, "paid_at": created if status == "paid" else None},
    )
    return obj


def refund(
    re_id: str,
    charge_id: str | None,
    status: str = "succeeded",
    *,
    payment_intent: str | None = None,
    amount: int = 1000,
    currency: str = "eur",
    reason: str | None = "requested_by_customer",
    failure_reason: str | None = None,
    created: int = T_CREATED,
) -> dict[str, Any]:
    """A refund of a charge (the object is the same in both API shapes)."""
    obj = example_object("refund")
    obj.update(
        id=re_id,
        charge=charge_id,
        payment_intent=payment_intent,
        status=status,
        amount=amount,
        currency=currency,
        reason=reason,
        failure_reason=failure_reason if status == "failed" else None,
        created=created,
    )
    return obj


def dispute(
    dp_id: str,
    charge_id: str | None,
    status: str = "needs_response",
    *,
    payment_intent: str | None = None,
    amount: int = 2900,
    currency: str = "eur",
    reason: str = "fraudulent",
    funds_movements: int = 0,
    due_by: int | None = None,
    created: int = T_CREATED,
) -> dict[str, Any]:
    """A dispute; `funds_movements` balance transactions (withdrawn, then reinstated)."""
    obj = example_object("dispute")
    obj.update(
        id=dp_id,
        charge=charge_id,
        payment_intent=payment_intent,
        status=status,
        amount=amount,
        currency=currency,
        reason=reason,
        balance_transactions=[{"id": f"txn_{dp_id}_{n}"} for n in range(funds_movements)],
        created=created,
    )
    obj["evidence_details"]["due_by"] = due_by if due_by is not None else created + 7 * 86_400
    return obj
