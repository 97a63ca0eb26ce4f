"""The read API's plans fields end to end: a subscription's pending change (its schedule's
next phase) and the account's features (the entitlement summary)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror import factory_plans as fp
from tests.read.support import AUTH, Pipeline

T0 = fp.T0
ACCT, CUS, SUB, OTHER = "org_plans", "cus_read_plans", "sub_read_plans", "sub_read_other"
SCHED = "sub_sched_read"
NEXT = T0 + 30 * f.DAY
SUMMARY = "entitlements.active_entitlement_summary.updated"


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def seed(pipe: Pipeline) -> None:
    """An account with two subscriptions; the newer one is scheduled to move to business."""
    pipe.deliver(
        f.event("customer.created", f.customer(CUS, account_ref=ACCT), T0),
        f.event("customer.subscription.created", f.subscription(OTHER, CUS, "active"), T0 + 1),
        f.event("customer.subscription.created", f.subscription(SUB, CUS, "active"), T0 + 2),
    )


def schedule(status: str, **kw: Any) -> dict[str, Any]:
    return fp.schedule(SCHED, CUS, status, **kw)


def subscriptions(pipe: Pipeline) -> dict[str, dict[str, Any]]:
    body = pipe.get(f"/v1/accounts/{ACCT}/subscriptions")
    return {s["id"]: s for s in body["data"]}


def test_a_scheduled_change_shows_on_its_subscription_until_released(pipe: Pipeline) -> None:
    seed(pipe)
    assert {s["pending_change"] for s in subscriptions(pipe).values()} == {None}
    active = schedule("active", subscription=SUB, current=(T0, NEXT))
    pipe.deliver(f.event("subscription_schedule.created", active, T0 + 10))
    subs = subscriptions(pipe)
    assert subs[SUB]["pending_change"] == {
        "schedule_id": SCHED,
        "price_id": "price_business_month",
        "plan_tier": "business",
        "plan_interval": "month",
        "quantity": 3,
        "effective_at": iso(NEXT),
    }
    assert subs[OTHER]["pending_change"] is None
    assert subs[SUB]["plan_tier"] == "pro"  # the subscription itself has not changed yet
    released = schedule("released", released_subscription=SUB)
    pipe.deliver(f.event("subscription_schedule.released", released, T0 + 20))
    assert subscriptions(pipe)[SUB]["pending_change"] is None


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_a_not_started_schedule_of_a_subscription_shows_its_first_phase(
    pipe: Pipeline, shape: ApiShape
) -> None:
    seed(pipe)
    later = [fp.phase(NEXT, NEXT + 30 * f.DAY, "price_starter_year", 2, shape=shape)]
    obj = schedule("not_started", subscription=SUB, phases=later, shape=shape)
    pipe.deliver(f.event("subscription_schedule.created", obj, T0 + 10, shape=shape))
    change = subscriptions(pipe)[SUB]["pending_change"]
    assert change is not None
    assert (change["plan_tier"], change["plan_interval"], change["quantity"]) == (
        "starter",
        "year",
        2,
    )
    completed = schedule("completed", subscription=SUB)
    pipe.deliver(f.event("subscription_schedule.completed", completed, T0 + 20))
    assert subscriptions(pipe)[SUB]["pending_change"] is None


def test_the_account_shows_its_features_as_stripe_last_summarised(pipe: Pipeline) -> None:
    seed(pipe)
    assert pipe.get(f"/v1/accounts/{ACCT}")["features"] == []
    pipe.deliver(
        f.event(SUMMARY, fp.entitlement_summary(CUS, "sso", "api", "seats"), T0 + 5),
        f.event(SUMMARY, fp.entitlement_summary("cus_someone_else", "everything"), T0 + 5),
    )
    assert pipe.get(f"/v1/accounts/{ACCT}")["features"] == ["api", "seats", "sso"]
    pipe.deliver(
        f.event(SUMMARY, fp.entitlement_summary(CUS, "api"), T0 + 9),
        f.event(SUMMARY, fp.entitlement_summary(CUS, "api", "sso"), T0 + 8),  # late, older
    )
    body = pipe.get(f"/v1/accounts/{ACCT}")
    assert body["features"] == ["api"]
    assert body["billing"]["plan_tier"] == "pro"  # features never change the billing answer


def test_unknown_account_is_404(pipe: Pipeline) -> None:
    answer = pipe.client.get("/v1/accounts/org_nobody", headers=AUTH)
    assert answer.status_code == 404
    assert answer.json()["error"] == "account_not_found"


def test_openapi_documents_the_plans_fields(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/v1/accounts/{account_ref}/subscription-schedules"]["get"]
    assert op["security"] == [{"bearer": ["read"]}]
    assert {p["name"] for p in op["parameters"]} == {"account_ref", "status", "limit", "cursor"}
    schemas = doc["components"]["schemas"]
    assert "raw" not in schemas["SubscriptionScheduleOut"]["properties"]
    assert "features" in schemas["AccountOut"]["properties"]
    assert "pending_change" in schemas["SubscriptionOut"]["properties"]
    assert {"schedule_id", "plan_tier", "effective_at"} <= set(
        schemas["PendingChangeOut"]["properties"]
    )


SCHEDULES = f"/v1/accounts/{ACCT}/subscription-schedules"


def test_schedules_are_listed_newest_first_with_a_status_filter(pipe: Pipeline) -> None:
    seed(pipe)
    for n in range(3):  # sub_sched_r0 (oldest) .. r2 (newest); r1 released
        status = "released" if n == 1 else "active"
        obj = fp.schedule(
            f"sub_sched_r{n}",
            CUS,
            status,
            subscription=None if n == 1 else SUB,
            current=None if n == 1 else (T0, NEXT),
            created=T0 + n,
        )
        pipe.deliver(
            f.event(
                f"subscription_schedule.{'released' if n == 1 else 'created'}", obj, T0 + 10 + n
            )
        )
    first = pipe.get(SCHEDULES, limit=2)
    assert [s["id"] for s in first["data"]] == ["sub_sched_r2", "sub_sched_r1"]
    assert first["has_more"] is True
    rest = pipe.get(SCHEDULES, limit=2, cursor=first["next_cursor"])
    assert [s["id"] for s in rest["data"]] == ["sub_sched_r0"] and rest["has_more"] is False
    newest = first["data"][0]
    assert (newest["status"], newest["subscription_id"], newest["next_plan_tier"]) == (
        "active",
        SUB,
        "business",
    )
    assert newest["next_effective_at"] == iso(NEXT) and newest["created"] == iso(T0 + 2)
    assert "raw" not in newest and "stripe_customer_id" not in newest
    released = pipe.get(SCHEDULES, status="released")["data"]
    assert [(s["id"], s["next_price_id"]) for s in released] == [("sub_sched_r1", None)]
    answer = pipe.client.get("/v1/accounts/org_nobody/subscription-schedules", headers=AUTH)
    assert answer.status_code == 404
    bad = pipe.client.get(SCHEDULES, params={"status": "paused"}, headers=AUTH)
    assert bad.status_code == 422
