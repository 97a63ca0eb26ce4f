"""The invoices group's event types (complete invoices, credit notes), in both API shapes,
through the real processor: each ends `processed` and writes its row / notification."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.mirror.families import REGISTRY, credit_notes, invoices
from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror import factory_invoices as fi
from tests.mirror.support import apply, one, rows
from workers.runtime import Runtime

T0 = 1_700_000_000
CUS, SUB, INV = "cus_types", "sub_types", "in_types"
DUE = T0 + 14 * f.DAY
ERROR = {"code": "customer_tax_location_invalid", "message": "Invalid location.", "type": "x"}

# event type -> (the object's status, the row's status, notification kinds)
NEW_INVOICE_CASES: dict[str, tuple[str, str, set[str]]] = {
    "invoice.updated": ("open", "open", set()),
    "invoice.deleted": ("deleted", "deleted", set()),
    "invoice.overdue": ("open", "open", {"overdue"}),
    "invoice.will_be_due": ("open", "open", set()),
    "invoice.finalization_failed": ("draft", "draft", {"invoice_finalization_failed"}),
}
CREDIT_NOTE_CASES = {
    "credit_note.created": "issued",
    "credit_note.updated": "issued",
    "credit_note.voided": "void",
}


def kinds(rt: Runtime) -> set[str]:
    return {r["kind"] for r in rows(rt.engine, "SELECT kind FROM notifications")}


def processed(rt: Runtime) -> list[str]:
    return [r["status"] for r in rows(rt.engine, "SELECT status FROM stripe_events")]


def test_the_groups_types_are_registered() -> None:
    assert set(NEW_INVOICE_CASES) <= set(invoices.FAMILY.event_types)
    assert set(CREDIT_NOTE_CASES) == set(credit_notes.FAMILY.event_types)
    assert set(NEW_INVOICE_CASES) | set(CREDIT_NOTE_CASES) <= set(REGISTRY)


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", sorted(NEW_INVOICE_CASES))
def test_new_invoice_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    status, stored, notified = NEW_INVOICE_CASES[event_type]
    failed = event_type == "invoice.finalization_failed"
    obj = fi.invoice(
        INV,
        CUS,
        SUB,
        status,
        shape=shape,
        created=T0,
        tax=503,
        due_date=DUE,
        finalization_error=ERROR if failed else None,
    )
    apply(runtime, f.event(event_type, obj, T0 + 5, shape=shape))

    assert processed(runtime) == ["processed"]
    row = one(runtime.engine, "SELECT * FROM invoices WHERE id = :i", i=INV)
    assert (row["status"], row["subscription_id"], row["stripe_customer_id"]) == (stored, SUB, CUS)
    assert (row["amount_due"], row["currency"], row["tax"]) == (2900, "eur", 503)
    assert row["due_date"] == datetime.fromtimestamp(DUE, UTC)
    assert row["finalization_error_code"] == (ERROR["code"] if failed else None)
    assert row["last_event_created"] == T0 + 5
    assert kinds(runtime) == notified


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_an_overdue_notification_carries_no_personal_data(
    runtime: Runtime, shape: ApiShape
) -> None:
    obj = fi.invoice(INV, CUS, SUB, "open", shape=shape, created=T0, due_date=DUE)
    apply(runtime, f.event("invoice.overdue", obj, DUE + f.DAY, shape=shape))
    note = one(runtime.engine, "SELECT * FROM notifications")
    assert (note["kind"], note["object_type"], note["object_id"]) == ("overdue", "invoice", INV)
    assert note["payload"]["due_date"] == datetime.fromtimestamp(DUE, UTC).isoformat()
    assert (note["payload"]["customer_id"], note["payload"]["amount_due"]) == (CUS, 2900)
    assert "billing@example.nl" not in str(note["payload"]) and "Jansen" not in str(note)


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_invoice_deleted_as_a_bare_stub_or_still_a_draft(runtime: Runtime, shape: ApiShape) -> None:
    draft = fi.invoice(INV, CUS, SUB, "draft", shape=shape, created=T0)
    apply(runtime, f.event("invoice.created", draft, T0, shape=shape))
    apply(runtime, f.event("invoice.deleted", draft, T0 + 1, shape=shape))
    assert one(runtime.engine, "SELECT status FROM invoices")["status"] == "deleted"
    stub = fi.deleted_invoice("in_stub")
    apply(runtime, f.event("invoice.deleted", stub, T0 + 2, shape=shape))
    row = one(runtime.engine, "SELECT * FROM invoices WHERE id = 'in_stub'")
    assert (row["status"], row["currency"], row["amount_due"]) == ("deleted", "", 0)
    assert processed(runtime) == ["processed"] * 3


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", sorted(CREDIT_NOTE_CASES))
def test_credit_note_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    status = CREDIT_NOTE_CASES[event_type]
    obj = fi.credit_note(
        "cn_types", CUS, INV, status, shape=shape, total=1200, refunded=1200, created=T0
    )
    apply(runtime, f.event(event_type, obj, T0 + 5, shape=shape))

    assert processed(runtime) == ["processed"]
    row = one(runtime.engine, "SELECT * FROM credit_notes WHERE id = 'cn_types'")
    assert (row["status"], row["invoice_id"], row["stripe_customer_id"]) == (status, INV, CUS)
    assert (row["total"], row["amount"], row["currency"], row["tax"]) == (1200, 1200, "eur", 200)
    assert row["amount_refunded"] == (1200 if shape is ApiShape.CURRENT else None)
    assert (row["voided_at"] is not None) == (status == "void")
    assert row["raw"]["id"] == "cn_types" and row["last_event_created"] == T0 + 5
    assert kinds(runtime) == set()


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_unknown_statuses_are_mirrored_not_dead(runtime: Runtime, shape: ApiShape) -> None:
    """Statuses Stripe may add: the invoice's transitions, the credit note's voided_at."""
    obj = fi.invoice(INV, CUS, SUB, "paid", shape=shape, created=T0)
    obj["status"] = "partially_refunded"
    note = fi.credit_note("cn_types", CUS, INV, "void", shape=shape, created=T0)
    note["status"] = "reversed"
    apply(
        runtime,
        f.event("invoice.updated", obj, T0 + 5, shape=shape),
        f.event("credit_note.updated", note, T0 + 5, shape=shape),
    )
    assert processed(runtime) == ["processed"] * 2
    assert one(runtime.engine, "SELECT status FROM invoices")["status"] == "paid"
    assert one(runtime.engine, "SELECT status FROM credit_notes")["status"] == "void"
