"""The credit notes family's pure core: parse (both shapes), rank, transition, odd payloads."""

from __future__ import annotations

import pytest

from domain.envelope import EventEnvelope
from domain.mirror.families import credit_notes
from domain.mirror.families.credit_notes import CreditNoteStatus, parse_credit_note
from domain.mirror.ordering import TERMINAL_WEIGHT
from domain.mirror.stripe_json import ApiShape, ViewError
from tests.families.support import T, decide, envelope, incoming, stamp
from tests.mirror import factory as f
from tests.mirror import factory_invoices as fi

FAMILY = credit_notes.FAMILY


def cn_event(
    event_type: str,
    status: str = "issued",
    *,
    shape: ApiShape = ApiShape.CURRENT,
    created: int = T,
    event_id: str = "evt_1",
    **kw: object,
) -> EventEnvelope:
    obj = fi.credit_note("cn_1", "cus_1", "in_1", status, shape=shape, **kw)  # type: ignore[arg-type]
    return envelope(event_type, obj, created, shape=shape, event_id=event_id)


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_both_shapes_parse_amounts_taxes_and_links(shape: ApiShape) -> None:
    obj = fi.credit_note("cn_1", "cus_1", "in_1", shape=shape, total=1200, refunded=700)
    assert ("refunds" in obj, "refund" in obj) == (
        shape is ApiShape.CURRENT,
        shape is ApiShape.LEGACY,
    )
    view = parse_credit_note(obj, f.api_version(shape))
    assert (view.shape, view.id, view.customer_id, view.invoice_id) == (
        shape,
        "cn_1",
        "cus_1",
        "in_1",
    )
    assert (view.status, view.type, view.reason, view.currency) == (
        CreditNoteStatus.ISSUED,
        "post_payment",
        "order_change",
        "eur",
    )
    assert (view.amount, view.total, view.subtotal, view.tax) == (1200, 1200, 1000, 200)
    assert (view.pre_payment_amount, view.post_payment_amount) == (0, 1200)
    # Since 2025-03-31 the refunds list says how much; before, only the refund's id.
    assert view.amount_refunded == (700 if shape is ApiShape.CURRENT else None)


def test_shape_is_told_by_the_payload_before_the_api_version() -> None:
    legacy = fi.credit_note("cn_1", "cus_1", "in_1", shape=ApiShape.LEGACY)
    assert parse_credit_note(legacy, f.api_version(ApiShape.CURRENT)).shape is ApiShape.LEGACY
    current = fi.credit_note("cn_1", "cus_1", "in_1")
    assert parse_credit_note(current, "2020-08-27").shape is ApiShape.CURRENT
    bare = {k: v for k, v in current.items() if k not in ("refunds", "refund")}
    assert parse_credit_note(bare, "2020-08-27").shape is ApiShape.LEGACY
    assert parse_credit_note(bare, None).shape is ApiShape.CURRENT


def test_a_legacy_expanded_refund_gives_its_amount() -> None:
    obj = fi.credit_note("cn_1", "cus_1", "in_1", shape=ApiShape.LEGACY, refunded=1)
    obj["refund"] = {"id": "re_1", "object": "refund", "amount": 450}
    assert parse_credit_note(obj, "2024-06-20").amount_refunded == 450


def test_the_stripe_example_object_parses() -> None:
    view = parse_credit_note(fi.example_object("credit_note"))
    assert (view.status, view.total, view.invoice_id) == (
        CreditNoteStatus.ISSUED,
        1690,
        "in_1Pgc75B7WZ01zgkWYv4iMwt7",
    )
    assert view.amount_refunded == 1387154914 and view.tax is None  # total_taxes: null


def test_odd_payloads() -> None:
    obj = fi.credit_note("cn_1", "cus_1", "in_1")
    with pytest.raises(ViewError, match="currency"):
        parse_credit_note({**obj, "currency": None})
    with pytest.raises(ViewError, match="id"):
        parse_credit_note({**obj, "id": None})
    # A status Stripe may add: void once voided, else in force; never a dead letter.
    assert parse_credit_note({**obj, "status": "pending"}).status is CreditNoteStatus.ISSUED
    voided = {**obj, "status": "reversed", "voided_at": T}
    assert parse_credit_note(voided).status is CreditNoteStatus.VOID
    assert parse_credit_note({**obj, "status": None}).status is CreditNoteStatus.ISSUED
    junk = {**obj, "refunds": ["x", {"amount_refunded": "9"}, {"amount_refunded": 5}]}
    assert parse_credit_note(junk).amount_refunded == 5
    no_total = {**obj, "total": None, "amount": 333}
    assert parse_credit_note(no_total).total == 333
    expanded = {**obj, "invoice": {"id": "in_x"}, "customer": {"id": "cus_x"}}
    assert (parse_credit_note(expanded).invoice_id, parse_credit_note(expanded).customer_id) == (
        "in_x",
        "cus_x",
    )


def test_void_is_terminal_and_events_order_within_a_second() -> None:
    voided = stamp(FAMILY, cn_event("credit_note.voided", "void", event_id="evt_a"))
    assert voided.rank >= TERMINAL_WEIGHT
    for event_type in ("credit_note.created", "credit_note.updated"):
        rival = cn_event(event_type, event_id="evt_z")
        assert decide(FAMILY, rival, current=voided) is None
        older = cn_event(event_type, created=T - 1, event_id="evt_z")
        assert decide(FAMILY, older, current=voided) is None
    created = stamp(FAMILY, cn_event("credit_note.created", event_id="evt_z"))
    assert stamp(FAMILY, cn_event("credit_note.updated", event_id="evt_a")) > created


def test_transition_writes_the_row_without_the_memo() -> None:
    row = decide(FAMILY, cn_event("credit_note.voided", "void", total=900))
    assert (row["id"], row["status"], row["total"], row["invoice_id"]) == (
        "cn_1",
        CreditNoteStatus.VOID,
        900,
        "in_1",
    )
    assert row["voided_at"] is not None and row["stripe_customer_id"] == "cus_1"
    assert "memo" not in row and all("Jan" not in str(v) for k, v in row.items() if k != "raw")
    assert (row["last_event_created"], row["last_event_id"]) == (T, "evt_1")


def test_no_notifications_and_the_invoice_view_gains_the_credited_amount() -> None:
    view, inc = incoming(FAMILY, cn_event("credit_note.created"))
    assert FAMILY.notices(view, inc) == () and FAMILY.kinds == ()
    related = FAMILY.adds["invoices"]["amount_credited"]
    assert (related.type, related.default()) == (int, 0)
