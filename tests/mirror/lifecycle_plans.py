"""The plans group's lifecycle (fixed ids and seconds) for the permutation + duplicates test:
a product and price; a schedule that starts, changes and is released; another that
completes; and the customer's entitlement summary as features are added, then removed.

Same-second pairs on purpose: the product's creation and update, the schedule's creation
and first update, a stale update in the second of the release, and two summaries of one
second (only the event id tells those apart: the summary carries no counter or time).
"""

from __future__ import annotations

from typing import Any

from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror import factory_plans as fp

T = 1_740_000_000
CUS, PROD, PRICE = "cus_plans_life", "prod_plans_life", "price_business_month"
SCHED_A, SCHED_B, SUB_A, SUB_B = "sub_sched_life_a", "sub_sched_life_b", "sub_life_a", "sub_life_b"
P0, P1, P2 = T + 10 * f.DAY, T + 40 * f.DAY, T + 70 * f.DAY
SUMMARY = "entitlements.active_entitlement_summary.updated"


def plans_lifecycle(shape: ApiShape, prefix: str = "evt_plans") -> list[dict[str, Any]]:
    """The events in the order Stripe created them."""
    n = iter(range(100))

    def ev(event_type: str, obj: dict[str, Any], at: int, **kw: Any) -> dict[str, Any]:
        return f.event(event_type, obj, at, shape=shape, event_id=f"{prefix}_{next(n):02d}", **kw)

    def phases(quantity: int) -> list[dict[str, Any]]:
        return [
            fp.phase(P0, P1, "price_pro_month", shape=shape),
            fp.phase(P1, P2, PRICE, quantity, shape=shape),
        ]

    def sched_a(status: str, quantity: int = 1, **kw: Any) -> dict[str, Any]:
        return fp.schedule(SCHED_A, CUS, status, shape=shape, phases=phases(quantity), **kw)

    def sched_b(status: str, **kw: Any) -> dict[str, Any]:
        return fp.schedule(
            SCHED_B, CUS, status, shape=shape, phases=phases(1), end_behavior="cancel", **kw
        )

    return [
        ev("product.created", fp.product(PROD, "Business"), T),
        ev("product.updated", fp.product(PROD, "Business (yearly too)"), T, previous={"name": "x"}),
        ev("price.created", fp.price(PRICE, PROD, nickname="Business monthly"), T + 1),
        ev(SUMMARY, fp.entitlement_summary(CUS, "api"), T + 2),
        # Schedule A: made for a future start, its phases edited in the same second.
        ev("subscription_schedule.created", sched_a("not_started"), T + 5),
        ev("subscription_schedule.updated", sched_a("not_started", 2), T + 5),
        # It starts: Stripe creates the subscription; the next phase is business monthly.
        ev(
            "subscription_schedule.updated",
            sched_a("active", 2, subscription=SUB_A, current=(P0, P1)),
            P0,
            previous={"status": "not_started"},
        ),
        ev(SUMMARY, fp.entitlement_summary(CUS, "api", "seats", "sso"), P0),
        # Same second as the upgrade's summary: one feature removed again.
        ev(SUMMARY, fp.entitlement_summary(CUS, "api", "seats"), P0),
        # Schedule B, from an existing subscription: active at once.
        ev(
            "subscription_schedule.created",
            sched_b("active", subscription=SUB_B, current=(P0, P1)),
            P0 + 60,
        ),
        # A's last edit and its release in one second: the release is final.
        ev(
            "subscription_schedule.updated",
            sched_a("active", 4, subscription=SUB_A, current=(P0, P1)),
            P0 + 5 * f.DAY,
        ),
        ev(
            "subscription_schedule.released",
            sched_a("released", 4, released_subscription=SUB_A),
            P0 + 5 * f.DAY,
        ),
        ev(
            "subscription_schedule.expiring",
            sched_b("active", subscription=SUB_B, current=(P1, P2)),
            P2 - 7 * f.DAY,
        ),
        ev("subscription_schedule.completed", sched_b("completed", subscription=SUB_B), P2),
        ev(
            "price.updated",
            fp.price(PRICE, PROD, nickname="Business monthly", active=False),
            P2 + 1,
        ),
    ]
