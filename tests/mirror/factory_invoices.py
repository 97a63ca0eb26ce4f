"""Invoices and credit notes as Stripe sends them, in either API shape (the invoices group).

Built on Stripe's example objects (domain/fixtures/fixtures3.json) via `factory.invoice`,
then made true to each shape where 2025-03-31 ("basil") changed them:

- invoice: `total_taxes` (current) vs `total_tax_amounts` (pre-2025); the pre-2025 one also
  names its `charge` and `payment_intent` and says `paid` (removed in basil).
- credit note: `refunds` (a list, current) vs one `refund` id (pre-2025); `total_taxes`
  vs `tax_amounts`.
"""

from __future__ import annotations

from typing import Any

from domain.mirror.stripe_json import ApiShape
from domain.samples import example_object

__all__ = ["credit_note", "deleted_invoice", "example_object", "invoice"]
from tests.mirror import factory as f


def invoice(
    inv_id: str | None,
    customer: str | None,
    sub_id: str | None,
    status: str,
    *,
    shape: ApiShape = ApiShape.CURRENT,
    tax: int = 0,
    due_date: int | None = None,
    finalization_error: dict[str, Any] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """`factory.invoice` with the shape's tax totals, payment links and finalization error."""
    obj = f.invoice(inv_id, customer, sub_id, status, shape=shape, **kw)
    # Personal data the invoice carries (never in notifications or logs).
    obj.update(customer_email="billing@example.nl", customer_name="Jan Jansen")
    obj["last_finalization_error"] = finalization_error
    obj["due_date"] = due_date
    obj["collection_method"] = "send_invoice" if due_date else "charge_automatically"
    if shape is ApiShape.CURRENT:
        obj.pop("total_tax_amounts", None)
        obj["total_taxes"] = [
            {
                "amount": tax,
                "tax_behavior": "exclusive",
                "tax_rate_details": {"tax_rate": "txr_nl_21"},
                "taxability_reason": "standard_rated",
                "taxable_amount": obj["subtotal"],
                "type": "tax_rate_details",
            }
        ]
        for gone in ("charge", "payment_intent", "paid", "paid_out_of_band"):
            obj.pop(gone, None)
    else:
        obj.pop("total_taxes", None)
        obj["total_tax_amounts"] = [
            {"amount": tax, "inclusive": False, "tax_rate": "txr_nl_21", "taxable_amount": None}
        ]
        paid = status == "paid"
        obj["charge"] = f"ch_{inv_id}" if paid else None
        obj["payment_intent"] = f"pi_{inv_id}" if status != "draft" else None
        obj["paid"] = paid
        obj["paid_out_of_band"] = False
    return obj


def deleted_invoice(inv_id: str) -> dict[str, Any]:
    """What Stripe answers a draft's deletion with (`deleted_invoice`): only the id."""
    obj = example_object("deleted_invoice")
    obj["id"] = inv_id
    return obj


def credit_note(
    cn_id: str,
    customer: str | None,
    inv_id: str | None,
    status: str = "issued",
    *,
    shape: ApiShape = ApiShape.CURRENT,
    total: int = 1000,
    kind: str = "post_payment",
    refunded: int = 0,
    created: int = 1_700_000_000,
    reason: str | None = "order_change",
) -> dict[str, Any]:
    """A credit note of an invoice (refunding `refunded` of it), in the requested shape."""
    obj = example_object("credit_note")
    tax = total // 6
    obj.update(
        id=cn_id,
        customer=customer,
        invoice=inv_id,
        status=status,
        type=kind,
        currency="eur",
        amount=total,
        subtotal=total - tax,
        subtotal_excluding_tax=total - tax,
        total=total,
        total_excluding_tax=total - tax,
        pre_payment_amount=total if kind == "pre_payment" else 0,
        post_payment_amount=total if kind == "post_payment" else 0,
        out_of_band_amount=None,
        created=created,
        effective_at=created,
        voided_at=created + 60 if status == "void" else None,
        number=f"CN-{cn_id}",
        reason=reason,
        memo="Sorry, Jan Jansen!",  # personal free text: never mirrored
        pdf=f"https://pay.stripe.com/credit_notes/{cn_id}/pdf",
    )
    if shape is ApiShape.CURRENT:
        obj.pop("refund", None)
        obj.pop("tax_amounts", None)
        obj["total_taxes"] = [
            {"amount": tax, "tax_behavior": "exclusive", "type": "tax_rate_details"}
        ]
        obj["refunds"] = (
            [
                {
                    "amount_refunded": refunded,
                    "refund": f"re_{cn_id}",
                    "payment_record_refund": None,
                    "type": "refund",
                }
            ]
            if refunded
            else []
        )
    else:
        for gone in ("refunds", "total_taxes", "pretax_credit_amounts"):
            obj.pop(gone, None)
        obj["tax_amounts"] = [{"amount": tax, "inclusive": False, "tax_rate": "txr_nl_21"}]
        obj["refund"] = f"re_{cn_id}" if refunded else None
    return obj
