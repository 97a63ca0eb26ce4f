"""The payments group's lifecycle applied in creation order gives the mirror Stripe holds
(the permutation + duplicates test of test_ordering.py then proves every order gives it)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror.lifecycle_payments import (
    CH,
    CH_FAIL,
    CUS,
    DP,
    INV,
    PI,
    PI_FAIL,
    RE,
    REFUNDED,
    payments_lifecycle,
)
from tests.mirror.support import apply, snapshot
from workers.runtime import Runtime


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_payments_lifecycle_in_order(runtime: Runtime, shape: ApiShape) -> None:
    apply(runtime, *payments_lifecycle(shape))
    snap = snapshot(runtime.engine)
    payments = {r["id"]: r for r in snap["payments"]}
    assert set(payments) == {PI, PI_FAIL}  # charges of intents are no payments of their own
    assert payments[PI]["status"] == "succeeded"  # the same-second processing lost
    assert payments[PI]["latest_charge_id"] == CH
    assert payments[PI]["invoice_id"] == (INV if shape is ApiShape.LEGACY else None)
    assert (payments[PI_FAIL]["status"], payments[PI_FAIL]["failure_code"]) == (
        "requires_payment_method",
        "card_declined",
    )
    charges = {r["id"]: r for r in snap["charges"]}
    assert (charges[CH]["status"], charges[CH_FAIL]["status"]) == ("succeeded", "failed")
    links = snap["invoice_payments"]
    if shape is ApiShape.CURRENT:
        assert [(r["invoice_id"], r["payment_intent_id"]) for r in links] == [(INV, PI)]
    else:
        assert links == []
    [refund] = snap["refunds"]
    assert (refund["id"], refund["status"], refund["charge_id"]) == (RE, "succeeded", CH)
    assert charges[CH]["amount_refunded"] == REFUNDED
    [dispute] = snap["disputes"]
    assert (dispute["id"], dispute["status"], dispute["charge_id"]) == (DP, "lost", CH)
    kinds = sorted((n["kind"], n["object_id"]) for n in snap["notifications"])
    # refund_issued once, though several events report the refund succeeding
    assert kinds == [("dispute_closed", DP), ("dispute_opened", DP), ("refund_issued", RE)]
    with runtime.engine.connect() as conn:
        customers = conn.execute(text("SELECT DISTINCT stripe_customer_id FROM notifications"))
        assert [c for (c,) in customers] == [CUS]  # found through the charge
