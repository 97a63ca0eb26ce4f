"""Every event type of the plans group (subscription schedules, entitlement summaries,
products, prices), in both API shapes, through the real processor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.mirror.families import REGISTRY
from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror import factory_plans as fp
from tests.mirror.factory_plans import T0
from tests.mirror.support import apply, one, rows
from workers.runtime import Runtime

CUS, SUB, SCHED = "cus_plans", "sub_plans", "sub_sched_plans"
NEXT = T0 + 30 * f.DAY
# event type -> the schedule status its object has
SCHEDULE_CASES = {
    "subscription_schedule.created": "not_started",
    "subscription_schedule.updated": "active",
    "subscription_schedule.expiring": "active",
    "subscription_schedule.released": "released",
    "subscription_schedule.canceled": "canceled",
    "subscription_schedule.aborted": "canceled",
    "subscription_schedule.completed": "completed",
}
SUMMARY = "entitlements.active_entitlement_summary.updated"
CATALOG_TYPES = {
    f"{o}.{t}" for o in ("product", "price") for t in ("created", "updated", "deleted")
}


def test_the_plans_types_are_registered() -> None:
    assert set(SCHEDULE_CASES) | {SUMMARY} | CATALOG_TYPES <= set(REGISTRY)


def kinds(rt: Runtime) -> set[str]:
    return {r["kind"] for r in rows(rt.engine, "SELECT kind FROM notifications")}


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", sorted(SCHEDULE_CASES))
def test_schedule_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    status = SCHEDULE_CASES[event_type]
    pending = status in ("not_started", "active")
    obj = fp.schedule(
        SCHED,
        CUS,
        status,
        shape=shape,
        subscription=SUB if pending else None,
        released_subscription=SUB if status == "released" else None,
        current=(T0, NEXT) if status == "active" else None,
    )
    apply(runtime, f.event(event_type, obj, T0 + 5, shape=shape))

    row = one(runtime.engine, "SELECT * FROM subscription_schedules WHERE id = :i", i=SCHED)
    assert (row["status"], row["stripe_customer_id"], row["end_behavior"]) == (
        status,
        CUS,
        "release",
    )
    assert (row["last_event_created"], row["raw"]["id"]) == (T0 + 5, SCHED)
    assert row["subscription_id"] == (SUB if pending else None)
    if status == "active":  # the second phase is next: business monthly, 3 seats
        assert row["current_phase_start"] == datetime.fromtimestamp(T0, UTC)
        expected = ("price_business_month", "business", "month", 3, NEXT)
    elif status == "not_started":  # the first phase is next: pro monthly
        expected = ("price_pro_month", "pro", "month", 1, T0)
    else:
        expected = None
    found = (
        row["next_price_id"],
        row["next_plan_tier"],
        row["next_plan_interval"],
        row["next_quantity"],
        row["next_effective_at"],
    )
    if expected is None:
        assert found == (None,) * 5
    else:
        assert found == (*expected[:4], datetime.fromtimestamp(expected[4], UTC))
    if status == "released":
        assert row["released_subscription_id"] == SUB and row["released_at"] is not None
    assert kinds(runtime) == set()


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_entitlement_summary_events(runtime: Runtime, shape: ApiShape) -> None:
    obj = fp.entitlement_summary(CUS, "seats", "api")
    apply(runtime, f.event(SUMMARY, obj, T0, shape=shape))
    row = one(runtime.engine, "SELECT * FROM entitlement_summaries")
    assert (row["id"], row["stripe_customer_id"], row["features"]) == (CUS, CUS, ["api", "seats"])
    assert row["has_more"] is False and row["last_event_created"] == T0


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", sorted(CATALOG_TYPES))
def test_product_and_price_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    deleted = event_type.endswith(".deleted")
    if event_type.startswith("product."):
        apply(runtime, f.event(event_type, fp.product("prod_plans", "Pro"), T0, shape=shape))
        row = one(runtime.engine, "SELECT * FROM products")
        assert (row["id"], row["name"]) == ("prod_plans", "Pro")
    else:
        obj = fp.price("price_plans", "prod_plans", nickname="Pro monthly", lookup_key="pro_m")
        apply(runtime, f.event(event_type, obj, T0, shape=shape))
        row = one(runtime.engine, "SELECT * FROM prices")
        assert (row["id"], row["product_id"], row["nickname"], row["lookup_key"]) == (
            "price_plans",
            "prod_plans",
            "Pro monthly",
            "pro_m",
        )
        assert (row["unit_amount"], row["currency"], row["recurring_interval"]) == (
            2900,
            "eur",
            "month",
        )
    assert (row["deleted"], row["active"]) == (deleted, not deleted)
    assert row["last_event_created"] == T0
