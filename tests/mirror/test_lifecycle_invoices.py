"""The invoices group's lifecycle gives the mirror it should, in order and reversed (the
permutation + duplicates test of test_ordering.py replays it through LIFECYCLES)."""

from __future__ import annotations

import pytest

from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror.lifecycle import LIFECYCLES
from tests.mirror.lifecycle_invoices import DELETED, ISSUED, PAID, VOIDED, invoices_lifecycle
from tests.mirror.support import apply, rows, snapshot
from workers.runtime import Runtime


def test_the_lifecycle_is_registered() -> None:
    assert LIFECYCLES["invoices"] is invoices_lifecycle


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("reverse", [False, True], ids=["in_order", "reversed"])
def test_the_lifecycle_ends_paid_deleted_and_voided(
    runtime: Runtime, shape: ApiShape, reverse: bool
) -> None:
    events = invoices_lifecycle(shape)
    apply(runtime, *(reversed(events) if reverse else events))
    found = {
        r["id"]: r
        for r in rows(
            runtime.engine,
            "SELECT id, status, tax, attempt_count, finalization_error_code FROM invoices",
        )
    }
    assert {i: (r["status"], r["tax"]) for i, r in found.items()} == {
        PAID: ("paid", 503),
        DELETED: ("deleted", 98),  # the same-second draft update lost to the deletion
    }
    assert found[PAID]["finalization_error_code"] is None  # cleared once finalized
    notes = rows(runtime.engine, "SELECT id, status, total, reason FROM credit_notes ORDER BY id")
    assert notes == [
        {"id": ISSUED, "status": "issued", "total": 700, "reason": "order_change"},
        {"id": VOIDED, "status": "void", "total": 500, "reason": "order_change"},
    ]
    kinds = sorted(n["kind"] for n in snapshot(runtime.engine)["notifications"])
    assert kinds == ["invoice_finalization_failed", "overdue"]
