"""Every event type of the payments group, in both API shapes, through the real processor."""

from __future__ import annotations

from typing import Any

import pytest

from domain.mirror.families import REGISTRY
from domain.mirror.stripe_json import ApiShape
from domain.samples import example_object
from tests.mirror import factory as f
from tests.mirror import factory_payments as p
from tests.mirror.support import apply, one, rows
from workers.runtime import Runtime

T0 = 1_700_000_000
CUS, PI, CH, INV = "cus_pay", "pi_pay", "ch_pay", "in_pay"

INTENT_CASES: dict[str, tuple[str, dict[str, Any] | None]] = {
    "payment_intent.succeeded": ("succeeded", None),
    "payment_intent.payment_failed": ("requires_payment_method", p.card_error()),
    "payment_intent.processing": ("processing", None),
    "payment_intent.requires_action": ("requires_action", None),
    "payment_intent.canceled": ("canceled", None),
}
CHARGE_CASES = {"charge.succeeded": "succeeded", "charge.failed": "failed"}


def kinds(rt: Runtime) -> set[str]:
    return {r["kind"] for r in rows(rt.engine, "SELECT kind FROM notifications")}


def test_the_payments_types_are_registered() -> None:
    expected = set(INTENT_CASES) | set(CHARGE_CASES) | {"invoice_payment.paid", "charge.refunded"}
    expected |= set(REFUND_CASES)
    assert expected <= set(REGISTRY)


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", sorted(INTENT_CASES))
def test_payment_intent_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    status, error = INTENT_CASES[event_type]
    obj = p.payment_intent(PI, CUS, status, shape=shape, invoice=INV, error=error)
    apply(runtime, f.event(event_type, obj, T0 + 5, shape=shape))

    row = one(runtime.engine, "SELECT * FROM payments WHERE id = :i", i=PI)
    assert (row["object"], row["status"], row["stripe_customer_id"]) == (
        "payment_intent",
        status,
        CUS,
    )
    assert (row["amount"], row["currency"], row["payment_method_type"]) == (2900, "eur", "card")
    assert row["invoice_id"] == (INV if shape is ApiShape.LEGACY else None)
    assert row["failure_code"] == ("card_declined" if error else None)
    assert (row["last_event_created"], row["raw"]["id"]) == (T0 + 5, PI)
    assert kinds(runtime) == set()


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", sorted(CHARGE_CASES))
@pytest.mark.parametrize("intent", [PI, None], ids=["of_an_intent", "direct"])
def test_charge_events(
    runtime: Runtime, event_type: str, intent: str | None, shape: ApiShape
) -> None:
    status = CHARGE_CASES[event_type]
    failure = ("card_declined", "Your card was declined.") if status == "failed" else None
    obj = p.charge(CH, CUS, status, shape=shape, payment_intent=intent, failure=failure)
    apply(runtime, f.event(event_type, obj, T0 + 5, shape=shape))

    row = one(runtime.engine, "SELECT * FROM charges WHERE id = :i", i=CH)
    assert (row["status"], row["payment_intent_id"], row["stripe_customer_id"]) == (
        status,
        intent,
        CUS,
    )
    assert row["receipt_url"] == f"https://pay.stripe.com/receipts/{CH}"
    assert row["failure_code"] == (failure[0] if failure else None)
    payments = rows(runtime.engine, "SELECT * FROM payments")
    if intent is None:  # a direct charge is its own payment
        [payment] = payments
        assert (payment["id"], payment["object"], payment["status"]) == (CH, "charge", status)
        assert payment["last_event_id"] == row["last_event_id"]
    else:
        assert payments == []
    assert kinds(runtime) == set()


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_invoice_payment_paid(runtime: Runtime, shape: ApiShape) -> None:
    obj = p.invoice_payment("inpay_pay", INV, payment_intent=PI)
    apply(runtime, f.event("invoice_payment.paid", obj, T0 + 5, shape=shape))

    row = one(runtime.engine, "SELECT * FROM invoice_payments WHERE id = 'inpay_pay'")
    assert (row["invoice_id"], row["payment_intent_id"], row["status"]) == (INV, PI, "paid")
    assert (row["amount_paid"], row["currency"]) == (2900, "eur")
    assert kinds(runtime) == set()


def test_stripes_example_objects_are_processed(runtime: Runtime) -> None:
    """The fixture objects as they are (currency 'currency' on the invoice payment)."""
    for event_type, resource in [
        ("payment_intent.processing", "payment_intent"),
        ("charge.succeeded", "charge"),
        ("invoice_payment.paid", "invoice_payment"),
    ]:
        apply(
            runtime, f.event(event_type, example_object(resource), T0, event_id=f"evt_{resource}")
        )
    assert len(rows(runtime.engine, "SELECT id FROM invoice_payments")) == 1
    assert len(rows(runtime.engine, "SELECT id FROM payments")) == 2  # the intent, the charge


REFUND_CASES: dict[str, tuple[str, dict[str, Any] | None]] = {
    "refund.created": ("succeeded", None),
    "refund.updated": ("succeeded", {"status": "pending"}),
    "refund.failed": ("failed", None),
    "charge.refund.updated": ("succeeded", {"status": "pending"}),
}


def notified(rt: Runtime) -> list[tuple[str, str | None]]:
    found = rows(rt.engine, "SELECT kind, stripe_customer_id FROM notifications ORDER BY kind")
    return [(r["kind"], r["stripe_customer_id"]) for r in found]


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", sorted(REFUND_CASES))
def test_refund_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    status, previous = REFUND_CASES[event_type]
    apply(runtime, f.event("charge.succeeded", p.charge(CH, CUS, shape=shape), T0, shape=shape))
    obj = p.refund("re_pay", CH, status, failure_reason="lost_or_stolen_card")
    apply(runtime, f.event(event_type, obj, T0 + 5, shape=shape, previous=previous))

    row = one(runtime.engine, "SELECT * FROM refunds WHERE id = 're_pay'")
    assert (row["charge_id"], row["status"], row["amount"], row["currency"]) == (
        CH,
        status,
        1000,
        "eur",
    )
    assert row["failure_reason"] == ("lost_or_stolen_card" if status == "failed" else None)
    kind = "refund_failed" if status == "failed" else "refund_issued"
    # charge.refund.updated repeats refund.updated from API 2024-10-28 on: no second notice.
    repeated = event_type == "charge.refund.updated" and shape is ApiShape.CURRENT
    assert notified(runtime) == ([] if repeated else [(kind, CUS)])  # the charge's customer


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_charge_refunded(runtime: Runtime, shape: ApiShape) -> None:
    # Old API versions embed the refunds; newer ones do not expand the list.
    embedded = (
        [p.refund("re_emb", CH, "succeeded", amount=700)] if shape is ApiShape.LEGACY else None
    )
    obj = p.charge(CH, CUS, shape=shape, payment_intent=PI, amount_refunded=700, refunds=embedded)
    apply(runtime, f.event("charge.refunded", obj, T0 + 5, shape=shape))

    row = one(runtime.engine, "SELECT * FROM charges WHERE id = :i", i=CH)
    assert (row["amount_refunded"], row["refunded"]) == (700, False)
    refunds = rows(runtime.engine, "SELECT id, charge_id, amount, last_event_id FROM refunds")
    if shape is ApiShape.LEGACY:
        assert [(r["id"], r["charge_id"], r["amount"]) for r in refunds] == [("re_emb", CH, 700)]
        assert refunds[0]["last_event_id"] == row["last_event_id"]
    else:
        assert refunds == []
    assert kinds(runtime) == set()


def test_a_refund_before_its_charge_is_notified_without_a_customer(runtime: Runtime) -> None:
    apply(runtime, f.event("refund.created", p.refund("re_early", "ch_unknown"), T0))
    assert notified(runtime) == [("refund_issued", None)]
    payload = one(runtime.engine, "SELECT payload FROM notifications")["payload"]
    assert payload["charge_id"] == "ch_unknown"  # names the payment for the product


DISPUTE_CASES: dict[str, tuple[str, int, str | None]] = {
    "charge.dispute.created": ("needs_response", 0, "dispute_opened"),
    "charge.dispute.updated": ("under_review", 0, None),
    "charge.dispute.funds_withdrawn": ("needs_response", 1, None),
    "charge.dispute.funds_reinstated": ("won", 2, None),
    "charge.dispute.closed": ("lost", 1, "dispute_closed"),
}


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", sorted(DISPUTE_CASES))
def test_dispute_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    status, movements, kind = DISPUTE_CASES[event_type]
    apply(runtime, f.event("charge.succeeded", p.charge(CH, CUS, shape=shape), T0, shape=shape))
    obj = p.dispute("dp_pay", CH, status, funds_movements=movements, created=T0 + 5)
    apply(runtime, f.event(event_type, obj, T0 + 5, shape=shape))

    row = one(runtime.engine, "SELECT * FROM disputes WHERE id = 'dp_pay'")
    assert (row["charge_id"], row["status"], row["reason"], row["amount"]) == (
        CH,
        status,
        "fraudulent",
        2900,
    )
    assert row["evidence_due_by"] is not None
    assert notified(runtime) == ([(kind, CUS)] if kind else [])  # the charge's customer


def test_the_payments_group_types_are_all_registered() -> None:
    assert set(DISPUTE_CASES) <= set(REGISTRY)


def test_hostile_lengths_are_cut_to_their_columns_not_dead_lettered(runtime: Runtime) -> None:
    """Values longer than their columns (a status Stripe might add, a forged payload) are
    stored cut, so the event is processed instead of failing on Postgres."""
    long = "x" * 600
    intent = p.payment_intent(PI, CUS, long, error={"code": long, "message": long * 10})
    intent.update(cancellation_reason=long, payment_method_types=[long])
    charge = p.charge(CH, CUS, long, failure=(long, long))
    charge["payment_method_details"] = {"type": long}
    apply(
        runtime,
        f.event("payment_intent.succeeded", intent, T0, event_id="evt_h1"),
        f.event("charge.succeeded", charge, T0, event_id="evt_h2"),
        f.event("refund.created", p.refund("re_h", CH, long, reason=long), T0, event_id="evt_h3"),
        f.event(
            "charge.dispute.created",
            p.dispute("dp_h", CH, long, reason=long),
            T0,
            event_id="evt_h4",
        ),
        f.event(
            "invoice_payment.paid",
            p.invoice_payment("inpay_h", INV, payment_intent=PI, status=long),
            T0,
            event_id="evt_h5",
        ),
    )
    payment = one(runtime.engine, "SELECT * FROM payments WHERE id = :i", i=PI)
    assert (len(payment["status"]), len(payment["cancellation_reason"])) == (32, 64)
    assert (len(payment["failure_code"]), len(payment["failure_message"])) == (255, 2000)
    assert len(payment["payment_method_type"]) == 64
    row = one(runtime.engine, "SELECT * FROM charges WHERE id = :i", i=CH)
    assert (len(row["status"]), len(row["failure_code"]), len(row["payment_method_type"])) == (
        32,
        255,
        64,
    )
    refund = one(runtime.engine, "SELECT status, reason FROM refunds")
    dispute = one(runtime.engine, "SELECT status, reason FROM disputes")
    assert [len(v) for v in (*refund.values(), *dispute.values())] == [32, 64, 32, 64]
    assert len(one(runtime.engine, "SELECT status FROM invoice_payments")["status"]) == 32
