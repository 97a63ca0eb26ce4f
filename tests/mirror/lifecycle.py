"""A realistic subscription lifecycle as a list of Stripe events (fixed ids and seconds).

checkout -> subscription created -> invoice paid -> updated (plan change) -> payment failed
-> past_due -> paid -> cancel at period end -> deleted, with same-second pairs on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror.lifecycle_credit_grants import credit_grants_lifecycle
from tests.mirror.lifecycle_customer import customer_lifecycle
from tests.mirror.lifecycle_invoices import invoices_lifecycle
from tests.mirror.lifecycle_payments import payments_lifecycle
from tests.mirror.lifecycle_plans import plans_lifecycle
from tests.mirror.lifecycle_sources import sources_lifecycle

T0 = 1_710_000_000
ACCT, CUS, SUB, PM = "acct_life", "cus_life", "sub_life", "pm_life"
PERIOD1 = (T0, T0 + 30 * f.DAY)
PERIOD2 = (PERIOD1[1], PERIOD1[1] + 30 * f.DAY)


def lifecycle(shape: ApiShape, prefix: str = "evt_life") -> list[dict[str, Any]]:
    """The events in the order Stripe created them."""
    n = iter(range(100))

    def ev(event_type: str, obj: dict[str, Any], at: int, **kw: Any) -> dict[str, Any]:
        return f.event(event_type, obj, at, shape=shape, event_id=f"{prefix}_{next(n):02d}", **kw)

    def sub(status: str, **kw: Any) -> dict[str, Any]:
        kw.setdefault("period", PERIOD1)
        return f.subscription(SUB, CUS, status, shape=shape, default_payment_method=PM, **kw)

    def inv(inv_id: str | None, status: str, attempts: int, at: int) -> dict[str, Any]:
        return f.invoice(inv_id, CUS, SUB, status, shape=shape, attempt_count=attempts, created=at)

    biz = "price_business_month"
    return [
        ev("customer.created", f.customer(CUS), T0),
        # Same second: Stripe creates the subscription while completing the checkout.
        ev("customer.subscription.created", sub("incomplete"), T0 + 1),
        ev("checkout.session.completed", f.checkout("cs_life", ACCT, CUS, SUB), T0 + 1),
        ev("invoice.paid", inv("in_1", "paid", 1, T0), T0 + 2),
        ev(
            "customer.subscription.updated",
            sub("active"),
            T0 + 2,
            previous={"status": "incomplete"},
        ),
        ev("payment_method.attached", f.payment_method(PM, CUS), T0 + 2),
        ev("customer.updated", f.customer(CUS, default_pm=PM), T0 + 3),
        # Plan change pro -> business.
        ev(
            "customer.subscription.updated",
            sub("active", price_id=biz),
            T0 + 10,
            previous={"items": {"data": [f.subscription(SUB, CUS, "active")["items"]["data"][0]]}},
        ),
        # Renewal fails: invoice finalized, payment fails, subscription past_due (same second).
        ev("invoice.finalized", inv("in_2", "open", 0, PERIOD2[0]), PERIOD2[0]),
        ev("invoice.payment_failed", inv("in_2", "open", 1, PERIOD2[0]), PERIOD2[0] + 3600),
        ev(
            "customer.subscription.updated",
            sub("past_due", price_id=biz, period=PERIOD2),
            PERIOD2[0] + 3600,
            previous={"status": "active"},
        ),
        # The retry succeeds.
        ev("invoice.paid", inv("in_2", "paid", 2, PERIOD2[0]), PERIOD2[0] + 3 * f.DAY),
        ev(
            "customer.subscription.updated",
            sub("active", price_id=biz, period=PERIOD2),
            PERIOD2[0] + 3 * f.DAY,
            previous={"status": "past_due"},
        ),
        ev(
            "customer.subscription.updated",
            sub("active", price_id=biz, period=PERIOD2, cancel_at_period_end=True),
            PERIOD2[0] + 5 * f.DAY,
            previous={"cancel_at_period_end": False},
        ),
        ev("invoice.upcoming", inv(None, "draft", 0, PERIOD2[1]), PERIOD2[0] + 6 * f.DAY),
        # Same second: a stale-looking non-terminal update must not undo the cancellation.
        ev(
            "customer.subscription.updated",
            sub("active", price_id=biz, period=PERIOD2, cancel_at_period_end=True, quantity=2),
            PERIOD2[1],
            previous={"quantity": 1},
        ),
        ev(
            "customer.subscription.deleted",
            sub("canceled", price_id=biz, period=PERIOD2, cancel_at_period_end=True),
            PERIOD2[1],
        ),
    ]


Lifecycle = Callable[[ApiShape], list[dict[str, Any]]]

# Every lifecycle the permutation + duplicates test of test_ordering.py replays: one per
# group of families (each in its own module), the events in the order Stripe created them.
LIFECYCLES: dict[str, Lifecycle] = {
    "subscription": lifecycle,
    "plans": plans_lifecycle,
    "customer": customer_lifecycle,
    "invoices": invoices_lifecycle,
    "sources": sources_lifecycle,
    "payments": payments_lifecycle,
    "credit_grants": credit_grants_lifecycle,
}
