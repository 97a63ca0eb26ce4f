"""A customer whose events produce one notification of each main kind (fixed ids)."""

from __future__ import annotations

from typing import Any

from tests.mirror import factory as f

T0 = 1_731_000_000
ACCT, CUS, SUB = "org_notify", "cus_notify", "sub_notify"


def events() -> list[dict[str, Any]]:
    """customer, then activated, payment_failed, plan_changed, canceled (4 notifications)."""
    old_item = f.subscription(SUB, CUS, "active")["items"]["data"][0]
    return [
        f.event("customer.created", f.customer(CUS, account_ref=ACCT), T0, event_id="evt_n0"),
        f.event(
            "customer.subscription.created",
            f.subscription(SUB, CUS, "active"),
            T0 + 1,
            event_id="evt_n1",
        ),
        f.event(
            "invoice.payment_failed",
            f.invoice("in_n", CUS, SUB, "open", attempt_count=1, amount=4900, created=T0 + 2),
            T0 + 2,
            event_id="evt_n2",
        ),
        f.event(
            "customer.subscription.updated",
            f.subscription(SUB, CUS, "active", price_id="price_business_month"),
            T0 + 3,
            event_id="evt_n3",
            previous={"items": {"data": [old_item]}},
        ),
        f.event(
            "customer.subscription.deleted",
            f.subscription(SUB, CUS, "canceled", price_id="price_business_month"),
            T0 + 4,
            event_id="evt_n4",
        ),
    ]


KINDS = [
    ("subscription_activated", "evt_n1"),
    ("payment_failed", "evt_n2"),
    ("subscription_plan_changed", "evt_n3"),
    ("subscription_canceled", "evt_n4"),
]
