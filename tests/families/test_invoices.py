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
from tests.mirror import factory_invoices as fi

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
    assert parse_invoice({**obj, "status": None}).status is InvoiceStatus.DRAFT


def test_a_status_stripe_may_add_is_read_from_the_transitions() -> None:
    def with_transitions(**at: int | None) -> InvoiceStatus:
        obj = f.invoice("in_1", "cus_1", "sub_1", "open")
        obj["status_transitions"] = {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
            **at,
        }
        return parse_invoice({**obj, "status": "pending_review"}).status

    assert with_transitions() is InvoiceStatus.DRAFT
    assert with_transitions(finalized_at=T) is InvoiceStatus.OPEN
    assert (
        with_transitions(finalized_at=T, marked_uncollectible_at=T) is InvoiceStatus.UNCOLLECTIBLE
    )
    assert with_transitions(finalized_at=T, paid_at=T) is InvoiceStatus.PAID
    assert with_transitions(finalized_at=T, voided_at=T) is InvoiceStatus.VOID
    odd = {**f.invoice("in_1", "cus_1", "sub_1", "open"), "status": 7, "status_transitions": "x"}
    assert parse_invoice(odd).status is InvoiceStatus.DRAFT


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


# The complete family: updated, deleted drafts, overdue, will_be_due, finalization_failed.


def full_event(
    event_type: str,
    status: str,
    *,
    shape: ApiShape = ApiShape.CURRENT,
    created: int = T,
    event_id: str = "evt_1",
    **kw: object,
) -> EventEnvelope:
    obj = fi.invoice("in_1", "cus_1", "sub_1", status, shape=shape, **kw)  # type: ignore[arg-type]
    return envelope(event_type, obj, created, shape=shape, event_id=event_id)


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_tax_totals_in_both_shapes(shape: ApiShape) -> None:
    obj = fi.invoice("in_1", "cus_1", "sub_1", "open", shape=shape, tax=609)
    assert ("total_taxes" in obj) == (shape is ApiShape.CURRENT)
    view = parse_invoice(obj, f.api_version(shape))
    assert (view.shape, view.tax, view.subscription_id) == (shape, 609, "sub_1")
    no_tax = {k: v for k, v in obj.items() if k not in ("total_taxes", "total_tax_amounts")}
    assert parse_invoice(no_tax, f.api_version(shape)).tax is None
    assert parse_invoice({**no_tax, "tax": 12}).tax == 12  # the oldest shapes' integer


def test_odd_tax_entries_are_skipped_not_fatal() -> None:
    obj = fi.invoice("in_1", "cus_1", "sub_1", "open")
    obj["total_taxes"] = [{"amount": 100}, {"amount": "12"}, "junk", {"amount": True}, {}]
    assert parse_invoice(obj).tax == 100


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_a_deleted_draft_parses_whatever_its_object_says(shape: ApiShape) -> None:
    said_deleted = fi.invoice("in_1", "cus_1", "sub_1", "deleted", shape=shape)
    assert parse_invoice(said_deleted, f.api_version(shape)).status is InvoiceStatus.DELETED
    stub = fi.deleted_invoice("in_1")
    view = parse_invoice(stub, f.api_version(shape))
    assert (view.id, view.status, view.currency, view.amount_due) == (
        "in_1",
        InvoiceStatus.DELETED,
        "",
        0,
    )
    # invoice.deleted whose object still shows the draft: the event deletes it.
    row = decide(FAMILY, full_event("invoice.deleted", "draft", shape=shape))
    assert row["status"] is InvoiceStatus.DELETED
    assert decide(FAMILY, envelope("invoice.deleted", stub))["status"] is InvoiceStatus.DELETED


def test_deleted_is_terminal_against_older_and_same_second_drafts() -> None:
    deleted = stamp(FAMILY, full_event("invoice.deleted", "deleted", event_id="evt_a"))
    assert deleted.rank >= TERMINAL_WEIGHT
    for event_type in ("invoice.updated", "invoice.created", "invoice.finalization_failed"):
        same_second = full_event(event_type, "draft", event_id="evt_z")
        assert decide(FAMILY, same_second, current=deleted) is None
        older = full_event(event_type, "draft", created=T - 5, event_id="evt_z")
        assert decide(FAMILY, older, current=deleted) is None
    # Nor does a payload status "draft" of the deletion event itself rank lower.
    assert stamp(FAMILY, full_event("invoice.deleted", "draft")).rank == deleted.rank


def test_an_invoice_known_only_from_updated_gets_its_row() -> None:
    row = decide(FAMILY, full_event("invoice.updated", "open", tax=609), current=None)
    assert (row["id"], row["status"], row["tax"], row["stripe_customer_id"]) == (
        "in_1",
        InvoiceStatus.OPEN,
        609,
        "cus_1",
    )


def test_same_second_an_update_beats_the_creation_of_the_draft() -> None:
    created = stamp(FAMILY, full_event("invoice.created", "draft", event_id="evt_z"))
    updated = stamp(FAMILY, full_event("invoice.updated", "draft", event_id="evt_a"))
    assert updated > created
    # ... but never a later attempt's rank: attempts still order payment failures.
    again = stamp(FAMILY, full_event("invoice.payment_failed", "open", attempt_count=2))
    assert again > stamp(FAMILY, full_event("invoice.updated", "open", attempt_count=1))


def test_overdue_notifies_with_ids_amounts_and_the_due_date_only() -> None:
    due = T - 3 * f.DAY
    event = full_event("invoice.overdue", "open", due_date=due)
    view, inc = incoming(FAMILY, event)
    [notice] = FAMILY.notices(view, inc)
    assert notice.kind.value == "overdue"
    assert notice.payload == {
        "invoice_id": "in_1",
        "subscription_id": "sub_1",
        "amount_due": 2900,
        "amount_remaining": 2900,
        "currency": "eur",
        "due_date": view.due_date.isoformat(),
        "hosted_invoice_url": "https://invoice.stripe.com/i/in_1",
    }
    assert view.due_date.timestamp() == due
    assert view.raw["customer_email"] == "billing@example.nl"
    raw = str(notice.payload)
    assert "billing@example.nl" not in raw and "Jansen" not in raw  # no e-mail, no name


def test_will_be_due_updates_the_row_without_a_notification() -> None:
    event = full_event("invoice.will_be_due", "open", due_date=T + 3 * f.DAY)
    view, inc = incoming(FAMILY, event)
    assert FAMILY.notices(view, inc) == []
    assert decide(FAMILY, event)["due_date"] == view.due_date


def test_finalization_failed_stores_the_error_and_notifies_its_code() -> None:
    error = {
        "code": "customer_tax_location_invalid",
        "message": "The customer's location could not be determined.",
        "type": "invalid_request_error",
    }
    event = full_event("invoice.finalization_failed", "draft", finalization_error=error)
    row = decide(FAMILY, event)
    assert (row["status"], row["finalization_error_code"]) == (
        InvoiceStatus.DRAFT,
        "customer_tax_location_invalid",
    )
    assert row["finalization_error_message"] == error["message"]
    [notice] = FAMILY.notices(*incoming(FAMILY, event))
    assert notice.kind.value == "invoice_finalization_failed"
    assert notice.payload == {
        "invoice_id": "in_1",
        "subscription_id": "sub_1",
        "error_code": "customer_tax_location_invalid",
    }
    # Only a type (Stripe's example object), or junk: no crash, the type stands in.
    typed = decide(FAMILY, full_event("invoice.updated", "draft", finalization_error={"type": "x"}))
    assert (typed["finalization_error_code"], typed["finalization_error_message"]) == ("x", None)
    odd = fi.invoice("in_1", "cus_1", "sub_1", "draft")
    odd["last_finalization_error"] = "nope"
    assert parse_invoice(odd).finalization_error_code is None
    cleared = decide(FAMILY, full_event("invoice.finalized", "open"))
    assert cleared["finalization_error_code"] is None


def test_the_listing_never_offers_deleted_drafts() -> None:
    listing = invoices.LISTING
    assert listing.never_listed == {InvoiceStatus.DELETED}
    assert listing.filter_status is not None
    offered = {s.value for s in listing.filter_status}
    assert offered == {s.value for s in InvoiceStatus} - {"deleted"}
