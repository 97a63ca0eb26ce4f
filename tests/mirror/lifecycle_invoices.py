"""The invoices group's lifecycle as Stripe creates its events (fixed ids and seconds).

A send-invoice draft is created and updated (same second), fails to finalize once, is
finalized and updated (same second), will be due, goes overdue, and is paid while a stale
update of the same second arrives; a second draft is created, updated and deleted (its
object says `status: "deleted"`) with a same-second draft update; a credit note on the paid
invoice is created and voided with a same-second update, and another stays issued.
"""

from __future__ import annotations

from typing import Any

from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror import factory_invoices as fi

T0 = 1_740_000_000
CUS, SUB = "cus_inv_life", "sub_inv_life"
PAID, DELETED = "in_life_paid", "in_life_deleted"
VOIDED, ISSUED = "cn_life_void", "cn_life_issued"
DUE = T0 + 30 * f.DAY
PAID_AT = DUE + 2 * f.DAY
ERROR = {"code": "customer_tax_location_invalid", "message": "Invalid location.", "type": "x"}


def invoices_lifecycle(shape: ApiShape, prefix: str = "evt_inv") -> list[dict[str, Any]]:
    """The events in the order Stripe created them."""
    n = iter(range(100))

    def ev(event_type: str, obj: dict[str, Any], at: int) -> dict[str, Any]:
        return f.event(event_type, obj, at, shape=shape, event_id=f"{prefix}_{next(n):02d}")

    def inv(inv_id: str, status: str, *, tax: int = 0, **kw: Any) -> dict[str, Any]:
        kw.setdefault("due_date", DUE)
        return fi.invoice(inv_id, CUS, SUB, status, shape=shape, created=T0, tax=tax, **kw)

    def cn(cn_id: str, status: str = "issued", **kw: Any) -> dict[str, Any]:
        return fi.credit_note(cn_id, CUS, PAID, status, shape=shape, created=PAID_AT + 60, **kw)

    return [
        # Same second: the update carries the newer content (the tax computed).
        ev("invoice.created", inv(PAID, "draft"), T0),
        ev("invoice.updated", inv(PAID, "draft", tax=503), T0),
        ev(
            "invoice.finalization_failed",
            inv(PAID, "draft", tax=503, finalization_error=ERROR),
            T0 + 30,
        ),
        ev("invoice.finalized", inv(PAID, "open", tax=503), T0 + 60),
        ev("invoice.updated", inv(PAID, "open", tax=503), T0 + 60),
        ev("invoice.will_be_due", inv(PAID, "open", tax=503), DUE - 3 * f.DAY),
        ev("invoice.overdue", inv(PAID, "open", tax=503), DUE + f.DAY),
        # Same second: a stale-looking open update must not undo the payment.
        ev("invoice.updated", inv(PAID, "open", tax=503, attempt_count=1), PAID_AT),
        ev("invoice.paid", inv(PAID, "paid", tax=503, attempt_count=1), PAID_AT),
        ev("invoice.payment_succeeded", inv(PAID, "paid", tax=503, attempt_count=1), PAID_AT),
        # A draft that is deleted; a draft update of the deletion's second must not revive it.
        ev("invoice.created", inv(DELETED, "draft", due_date=None), T0 + 100),
        ev("invoice.updated", inv(DELETED, "draft", due_date=None, tax=99), T0 + 200),
        ev("invoice.updated", inv(DELETED, "draft", due_date=None, tax=98), T0 + 300),
        ev("invoice.deleted", inv(DELETED, "deleted", due_date=None, tax=98), T0 + 300),
        # Credit notes on the paid invoice: one voided (same second as an update), one kept.
        ev("credit_note.created", cn(VOIDED, total=500), PAID_AT + 60),
        ev("credit_note.created", cn(ISSUED, total=700, refunded=700), PAID_AT + 60),
        ev("credit_note.voided", cn(VOIDED, "void", total=500), PAID_AT + 120),
        ev("credit_note.updated", cn(VOIDED, total=500, reason="duplicate"), PAID_AT + 120),
    ]
