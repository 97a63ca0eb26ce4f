"""The invoices family's pure core: parse (both shapes), rank, transition, notices."""

from __future__ import annotations

import pytest

from domain.envelope import EventEnvelope
from domain.mirror.families import invoices
from domain.mirror.families.invoices import parse_invoice
from domain.mirror.ordering import TERMINAL_WEIGHT, Stamp
from domain.mirror.statuses import InvoiceStatus
from domain.mirror.stripe_json import ApiShape, ViewError
from tests.families.support import T, decide, envelope, incoming, stamp
from tests.mirror import factory as f

FAMILY = invoices.FAMILY


def inv_event(
    event_type: str,
    status: str,
    *,
    attempts: int = 0,
    shape: ApiShape = ApiShape.CURRENT,
    inv_id: str | None = "in_1",
    event_id: str = "evt_1",
) -> EventEnvelope:
    obj = f.invoice(inv_id, "cus_1", "sub_1", status, shape=shape, attempt_count=attempts)
    return envelope(event_type, obj, T, shape=shape, event_id=event_id)


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_both_shapes_name_the_subscription(shape: ApiShape) -> None:
    obj = f.invoice("in_1", "cus_1", "sub_1", "paid", shape=shape, amount=4200)
    view = parse_invoice(obj, f.api_version(shape))
    assert (view.shape, view.subscription_id, view.customer_id) == (shape, "sub_1", "cus_1")
    assert (view.status, view.amount_due, view.amount_paid, view.currency) == (
        InvoiceStatus.PAID,
        4200,
        4200,
        "eur",
    )
    assert view.paid_at is not None


def test_a_current_invoice_may_still_carry_a_top_level_subscription() -> None:
    obj = f.invoice("in_1", "cus_1", None, "open")
    obj["subscription"] = "sub_top"
    assert parse_invoice(obj).subscription_id == "sub_top"


def test_what_cannot_be_mirrored_is_refused() -> None:
    obj = f.invoice("in_1", "cus_1", "sub_1", "open")
    with pytest.raises(ViewError, match="currency"):
        parse_invoice({**obj, "currency": None})
    with pytest.raises(ViewError, match="status"):
        parse_invoice({**obj, "status": "pending"})
    assert parse_invoice({**obj, "status": None}).status is InvoiceStatus.DRAFT


def test_an_upcoming_invoice_has_no_row_and_no_targets() -> None:
    event = inv_event("invoice.upcoming", "draft", inv_id=None)
    view, inc = incoming(FAMILY, event)
    assert FAMILY.refs(view, event).id is None
    assert FAMILY.targets(event).keys == () and FAMILY.targets(event).rows == ()
    assert FAMILY.transition(view, inc) is None
    assert FAMILY.notices(view, inc) == []


def test_same_second_ties_follow_the_lifecycle_and_the_attempts() -> None:
    def at(event_type: str, status: str, attempts: int, event_id: str) -> Stamp:
        return stamp(FAMILY, inv_event(event_type, status, attempts=attempts, event_id=event_id))

    paid = at("invoice.paid", "paid", 1, "evt_a")
    assert paid.rank >= TERMINAL_WEIGHT
    assert paid > at("invoice.payment_failed", "open", 5, "evt_z")
    assert at("invoice.voided", "void", 0, "evt_a").rank >= TERMINAL_WEIGHT
    uncollectible = at("invoice.marked_uncollectible", "uncollectible", 4, "evt_a")
    assert uncollectible.rank < TERMINAL_WEIGHT
    assert paid > uncollectible  # it can still be paid
    failed_twice = at("invoice.payment_failed", "open", 2, "evt_a")
    assert failed_twice > at("invoice.payment_failed", "open", 1, "evt_z")
    finalized = at("invoice.finalized", "open", 0, "evt_a")
    assert finalized > at("invoice.created", "draft", 0, "evt_z")


def test_transition_writes_every_column() -> None:
    row = decide(FAMILY, inv_event("invoice.payment_failed", "open", attempts=2))
    assert (row["id"], row["stripe_customer_id"], row["subscription_id"]) == (
        "in_1",
        "cus_1",
        "sub_1",
    )
    assert (row["status"], row["attempt_count"], row["amount_remaining"]) == (
        InvoiceStatus.OPEN,
        2,
        2900,
    )
    assert row["next_payment_attempt"] is not None and row["number"] == "NR-in_1"
    assert (row["last_event_created"], row["last_event_id"]) == (T, "evt_1")
    assert row["raw"]["id"] == "in_1"


def test_payment_problems_notify_with_what_the_product_needs() -> None:
    event = inv_event("invoice.payment_failed", "open", attempts=1)
    view, inc = incoming(FAMILY, event)
    [notice] = FAMILY.notices(view, inc)
    assert notice.kind.value == "payment_failed"
    assert notice.payload == {
        "invoice_id": "in_1",
        "subscription_id": "sub_1",
        "amount_due": 2900,
        "currency": "eur",
        "attempt_count": 1,
        "next_payment_attempt": view.next_payment_attempt.isoformat(),
        "hosted_invoice_url": "https://invoice.stripe.com/i/in_1",
    }
    action = inv_event("invoice.payment_action_required", "open", attempts=1)
    assert [n.kind.value for n in FAMILY.notices(*incoming(FAMILY, action))] == [
        "payment_action_required"
    ]
    assert FAMILY.notices(*incoming(FAMILY, inv_event("invoice.paid", "paid"))) == []
