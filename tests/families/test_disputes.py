"""Disputes: pure rules (parse, ties, row, notifications), no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.mirror.families import payments
from domain.mirror.families.payments.disputes import DisputeKind, dispute_notices, parse_dispute
from domain.mirror.families.payments.tables import DISPUTES
from domain.mirror.stripe_json import ApiShape, ViewError
from domain.samples import example_object
from tests.families.support import T, decide, envelope, incoming, stamp
from tests.mirror import factory as f
from tests.mirror import factory_payments as p

DP = payments.DISPUTES_FAMILY


def test_stripes_example_dispute_parses() -> None:
    view = parse_dispute(example_object("dispute"))
    assert (view.id, view.charge_id, view.status, view.reason, view.amount) == (
        "dp_1Pgc71B7WZ01zgkWMevJiAUx",
        "ch_1PgafuB7WZ01zgkWXYmPNZs8",
        "warning_needs_response",
        "general",
        1000,
    )
    assert view.evidence_due_by == datetime.fromtimestamp(1723679999, UTC)
    assert (view.funds_movements, view.is_charge_refundable) == (0, True)


def test_odd_disputes() -> None:
    with pytest.raises(ViewError):
        parse_dispute({"id": "dp_1"})  # no currency
    odd = parse_dispute(
        {"id": "dp_1", "currency": "eur", "status": "escalated_to_mars", "evidence_details": 5}
    )
    assert (odd.status, odd.evidence_due_by, odd.evidence_submission_count) == (
        "escalated_to_mars",
        None,
        0,
    )


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_dispute_row(shape: ApiShape) -> None:
    obj = p.dispute("dp_1", "ch_1", payment_intent="pi_1", created=T)
    row = decide(DP, envelope("charge.dispute.created", obj, shape=shape), facts="cus_1")
    assert set(row) == {c.name for c in DISPUTES.columns} - {"updated_at"}
    assert (row["charge_id"], row["payment_intent_id"], row["status"], row["reason"]) == (
        "ch_1",
        "pi_1",
        "needs_response",
        "fraudulent",
    )
    assert row["evidence_due_by"] == datetime.fromtimestamp(T + 7 * 86_400, UTC)
    assert (row["amount"], row["currency"]) == (2900, "eur")


def _rank(status: str, movements: int = 0, event_type: str = "charge.dispute.updated") -> int:
    obj = p.dispute("dp_1", "ch_1", status, funds_movements=movements)
    return stamp(DP, envelope(event_type, obj)).rank


def test_dispute_ties() -> None:
    order = ["warning_needs_response", "warning_under_review", "needs_response", "under_review"]
    ranks = [_rank(s) for s in order]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    assert _rank("needs_response", 1) > _rank("needs_response", 0)  # funds withdrawn
    assert _rank("needs_response", 2) > _rank("needs_response", 1)  # and reinstated
    for closed in ("won", "lost", "warning_closed", "prevented", "charge_refunded"):
        assert _rank(closed) > _rank("under_review", 2)
    assert _rank("brand_new_status") == _rank("warning_needs_response")


def test_a_same_second_update_never_reopens_a_lost_dispute() -> None:
    lost = envelope("charge.dispute.closed", p.dispute("dp_1", "ch_1", "lost"), event_id="evt_1")
    late = envelope(
        "charge.dispute.updated",
        p.dispute("dp_1", "ch_1", "under_review", funds_movements=1),
        event_id="evt_9",
    )
    assert decide(DP, late, current=stamp(DP, lost)) is None


@pytest.mark.parametrize(
    ("event_type", "status", "kind"),
    [
        ("charge.dispute.created", "needs_response", DisputeKind.DISPUTE_OPENED),
        ("charge.dispute.created", "warning_needs_response", DisputeKind.DISPUTE_OPENED),
        ("charge.dispute.closed", "lost", DisputeKind.DISPUTE_CLOSED),
        ("charge.dispute.closed", "won", DisputeKind.DISPUTE_CLOSED),
        ("charge.dispute.updated", "under_review", None),
        ("charge.dispute.funds_withdrawn", "needs_response", None),
        ("charge.dispute.funds_reinstated", "won", None),
    ],
)
def test_dispute_notices(event_type: str, status: str, kind: DisputeKind | None) -> None:
    obj = p.dispute("dp_1", "ch_1", status, payment_intent="pi_1", created=T)
    view, inc = incoming(DP, envelope(event_type, obj), "cus_1")
    notices = dispute_notices(view, inc)
    assert [n.kind for n in notices] == ([kind] if kind else [])
    for notice in notices:
        assert notice.customer_id == "cus_1"
        assert notice.payload == {
            "dispute_id": "dp_1",
            "charge_id": "ch_1",
            "payment_intent_id": "pi_1",
            "status": status,
            "reason": "fraudulent",
            "amount": 2900,
            "currency": "eur",
            "evidence_due_by": datetime.fromtimestamp(T + 7 * 86_400, UTC).isoformat(),
        }
