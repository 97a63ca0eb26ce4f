"""The plans lifecycle in creation order gives the expected mirror (its permutations are
replayed by tests/mirror/test_ordering.py through LIFECYCLES)."""

from __future__ import annotations

import pytest

from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror.lifecycle_plans import CUS, SCHED_A, SCHED_B, SUB_A, SUB_B, plans_lifecycle
from tests.mirror.support import apply, snapshot
from workers.runtime import Runtime


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_plans_lifecycle_in_order(runtime: Runtime, shape: ApiShape) -> None:
    events = plans_lifecycle(shape)
    apply(runtime, *events)
    snap = snapshot(runtime.engine)
    by_id = {s["id"]: s for s in snap["subscription_schedules"]}
    a, b = by_id[SCHED_A], by_id[SCHED_B]
    # The same-second stale update lost to the release: nothing pending, A's last quantity.
    assert (a["status"], a["subscription_id"], a["released_subscription_id"]) == (
        "released",
        None,
        SUB_A,
    )
    assert a["next_price_id"] is None and a["raw"]["phases"][1]["items"][0]["quantity"] == 4
    assert (b["status"], b["subscription_id"], b["next_effective_at"]) == ("completed", SUB_B, None)
    assert b["last_event_id"] == events[-2]["id"]
    [summary] = snap["entitlement_summaries"]
    # Two summaries of one second: the larger event id (here the later one) wins.
    assert (summary["id"], summary["features"]) == (CUS, ["api", "seats"])
    [product] = snap["products"]
    assert (product["name"], product["active"]) == ("Business (yearly too)", True)
    [price] = snap["prices"]
    assert (price["nickname"], price["active"], price["unit_amount"]) == (
        "Business monthly",
        False,
        2900,
    )
    assert snap["notifications"] == []
