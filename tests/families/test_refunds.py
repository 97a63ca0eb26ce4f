"""Refunds: pure rules (parse, ties, rows, embedded refunds, notifications), no database."""

from __future__ import annotations

from typing import Any

import pytest

from domain.mirror.families import payments
from domain.mirror.families.payments.refunds import (
    RefundKind,
    embedded_refund_rows,
    parse_refund,
    refund_notices,
)
from domain.mirror.families.payments.tables import REFUNDS
from domain.mirror.ordering import Stamp
from domain.mirror.stripe_json import ApiShape, ViewError
from domain.samples import example_object
from tests.families.support import T, decide, envelope, incoming, stamp
from tests.mirror import factory as f
from tests.mirror import factory_payments as p

RE = payments.REFUNDS_FAMILY
CH = payments.CHARGES_FAMILY


def columns() -> set[str]:
    return {c.name for c in REFUNDS.columns} - {"updated_at"}


def test_stripes_example_refund_parses() -> None:
    view = parse_refund(example_object("refund"))
    assert (view.id, view.charge_id, view.status, view.amount, view.currency) == (
        "re_1Pgc72B7WZ01zgkWqPvrRrPE",
        "ch_1PgafuB7WZ01zgkWXYmPNZs8",
        "succeeded",
        100,
        "usd",
    )
    assert view.customer_id is None and view.payment_intent_id is None


def test_odd_refunds() -> None:
    with pytest.raises(ViewError):
        parse_refund({"id": "re_1", "amount": 5})
    old = parse_refund({"id": "re_1", "currency": "EUR", "charge": {"id": "ch_1"}})
    assert (old.status, old.amount, old.charge_id) == ("succeeded", 0, "ch_1")  # pre-status
    new = parse_refund({"id": "re_1", "currency": "eur", "status": "reversed_by_the_moon"})
    assert new.status == "reversed_by_the_moon"


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_refund_row(shape: ApiShape) -> None:
    obj = p.refund("re_1", "ch_1", "pending", payment_intent="pi_1")
    row = decide(RE, envelope("refund.created", obj, shape=shape), facts="cus_1")
    assert set(row) == columns()
    assert (row["charge_id"], row["payment_intent_id"], row["status"], row["amount"]) == (
        "ch_1",
        "pi_1",
        "pending",
        1000,
    )
    # Only the refund's own `customer`: the charge's customer is found at read time.
    assert row["stripe_customer_id"] is None
    assert (row["reason"], row["last_event_created"]) == ("requested_by_customer", T)


def _rank(status: str) -> int:
    return stamp(RE, envelope("refund.updated", p.refund("re_1", "ch_1", status))).rank


def test_refund_ties() -> None:
    assert _rank("pending") < _rank("requires_action") < _rank("succeeded") < _rank("failed")
    assert _rank("failed") == _rank("canceled")
    assert _rank("something_new") == _rank("pending")


def test_a_same_second_pending_never_undoes_a_failed_refund() -> None:
    failed = envelope("refund.failed", p.refund("re_1", "ch_1", "failed"), event_id="evt_1")
    pending = envelope("refund.updated", p.refund("re_1", "ch_1", "pending"), event_id="evt_9")
    assert decide(RE, pending, current=stamp(RE, failed)) is None


def test_embedded_refunds_are_stamped_like_a_refund_event_of_that_second() -> None:
    refunds = [
        p.refund("re_1", None, "succeeded"),
        {"id": "re_bad"},
        p.refund("re_2", None, "pending"),
    ]
    obj = p.charge("ch_1", "cus_1", amount_refunded=2000, refunds=refunds)
    row = decide(CH, envelope("charge.refunded", obj, T + 5, event_id="evt_ch"))
    embedded = embedded_refund_rows(row, refunds)
    assert [r["id"] for r in embedded] == ["re_1", "re_2"]  # one without a currency: skipped
    assert all(set(r) == columns() for r in embedded)
    assert all(r["charge_id"] == "ch_1" for r in embedded)  # the embedding charge
    own = stamp(RE, envelope("refund.updated", refunds[0], T + 5, event_id="evt_ch"))
    first = embedded[0]
    assert (
        Stamp(first["last_event_created"], first["last_event_rank"], first["last_event_id"]) == own
    )


def _kind(
    event_type: str,
    status: str,
    shape: ApiShape = ApiShape.CURRENT,
    previous: dict[str, Any] | None = None,
) -> RefundKind | None:
    obj = p.refund("re_1", "ch_1", status)
    event = envelope(event_type, obj, shape=shape, previous=previous)
    view, inc = incoming(RE, event, "cus_1")
    notices = refund_notices(view, inc)
    assert len(notices) <= 1
    return notices[0].kind if notices else None  # type: ignore[return-value]


ISSUED, FAILED = RefundKind.REFUND_ISSUED, RefundKind.REFUND_FAILED
WAS_PENDING = {"status": "pending"}


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_refund_issued_once_per_refund(shape: ApiShape) -> None:
    assert _kind("refund.created", "succeeded", shape) is ISSUED  # a card refund
    assert _kind("refund.created", "pending", shape) is None
    assert _kind("refund.updated", "succeeded", shape, WAS_PENDING) is ISSUED
    assert _kind("refund.updated", "succeeded", shape, {"metadata": {}}) is None  # no change
    # charge.refund.updated repeats refund.updated from API 2024-10-28 on.
    expected = ISSUED if shape is ApiShape.LEGACY else None
    assert _kind("charge.refund.updated", "succeeded", shape, WAS_PENDING) is expected


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_refund_failed(shape: ApiShape) -> None:
    assert _kind("refund.failed", "failed", shape) is FAILED
    assert _kind("refund.updated", "failed", shape, {"status": "succeeded"}) is None
    expected = FAILED if shape is ApiShape.LEGACY else None
    assert _kind("charge.refund.updated", "failed", shape, {"status": "succeeded"}) is expected


def test_notices_carry_ids_and_the_charges_customer_only() -> None:
    event = envelope("refund.created", p.refund("re_1", "ch_1", payment_intent="pi_1"))
    view, inc = incoming(RE, event, "cus_from_charge")
    [notice] = refund_notices(view, inc)
    assert notice.customer_id == "cus_from_charge"
    assert notice.payload == {
        "refund_id": "re_1",
        "charge_id": "ch_1",
        "payment_intent_id": "pi_1",
        "amount": 1000,
        "currency": "eur",
        "status": "succeeded",
        "reason": "requested_by_customer",
        "failure_reason": None,
    }
    assert set(RE.kinds) == {ISSUED, FAILED}


def test_charge_refunded_ranks_after_charge_succeeded() -> None:
    paid = envelope("charge.succeeded", p.charge("ch_1", "c"), event_id="evt_9")
    refunded = envelope("charge.refunded", p.charge("ch_1", "c", amount_refunded=100))
    assert stamp(CH, refunded) > stamp(CH, paid)
    assert decide(CH, paid, current=stamp(CH, refunded)) is None
