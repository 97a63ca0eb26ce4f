"""Stripe objects of the plans group (schedules, products, prices, entitlement summaries),
from Stripe's published examples (fixtures3.json), in either API shape.

A subscription schedule's phases lost their singular `coupon` in 2025-03-31 (only
`discounts` remains); the pre-2025 shape carries `coupon` beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.mirror.stripe_json import ApiShape
from domain.samples import example_object
from tests.mirror.factory import CATALOG, DAY

T0 = 1_730_000_000


def phase(
    start: int,
    end: int,
    price_id: str = "price_pro_month",
    quantity: int = 1,
    *,
    shape: ApiShape = ApiShape.CURRENT,
) -> dict[str, Any]:
    """One phase billing `price_id` from `start` to `end`."""
    obj = example_object("subscription_schedule")["phases"][0]
    item = obj["items"][0]
    plan = CATALOG.by_price(price_id)
    item.update(price=price_id, quantity=quantity)
    item["plan"].update(id=price_id, interval=plan.interval if plan else "month", interval_count=1)
    obj.update(start_date=start, end_date=end, currency="eur")
    if shape is ApiShape.LEGACY:
        obj["coupon"] = None
    return obj


def schedule(
    sched_id: str,
    customer: str | None,
    status: str,
    *,
    shape: ApiShape = ApiShape.CURRENT,
    subscription: str | None = None,
    phases: Sequence[dict[str, Any]] = (),
    current: tuple[int, int] | None = None,
    released_subscription: str | None = None,
    end_behavior: str = "release",
    created: int = T0,
) -> dict[str, Any]:
    """A schedule; without phases: this month on pro, then business from next month."""
    obj = example_object("subscription_schedule")
    if not phases:
        phases = [
            phase(T0, T0 + 30 * DAY, shape=shape),
            phase(T0 + 30 * DAY, T0 + 60 * DAY, "price_business_month", 3, shape=shape),
        ]
    ended = status in ("completed", "released", "canceled")
    obj.update(
        id=sched_id,
        customer=customer,
        status=status,
        subscription=subscription,
        phases=list(phases),
        current_phase=(
            {"start_date": current[0], "end_date": current[1]} if current is not None else None
        ),
        released_subscription=released_subscription,
        end_behavior=end_behavior,
        created=created,
        canceled_at=created + DAY if status == "canceled" else None,
        completed_at=created + DAY if status == "completed" else None,
        released_at=created + DAY if status == "released" else None,
    )
    if ended:
        obj["current_phase"] = None
    return obj


def product(prod_id: str, name: str = "Pro plan", *, active: bool = True) -> dict[str, Any]:
    obj = example_object("product")
    obj.update(id=prod_id, name=name, active=active, default_price=None)
    return obj


def price(
    price_id: str,
    product_id: str,
    *,
    nickname: str | None = "Pro monthly",
    lookup_key: str | None = "pro_monthly",
    unit_amount: int | None = 2900,
    interval: str | None = "month",
    active: bool = True,
) -> dict[str, Any]:
    obj = example_object("price")
    obj.update(
        id=price_id,
        product=product_id,
        nickname=nickname,
        lookup_key=lookup_key,
        unit_amount=unit_amount,
        unit_amount_decimal=None if unit_amount is None else str(unit_amount),
        currency="eur",
        active=active,
    )
    if interval is None:
        obj.update(recurring=None, type="one_time")
    else:
        obj["recurring"]["interval"] = interval
    return obj


def entitlement_summary(customer: str | None, *lookup_keys: str) -> dict[str, Any]:
    """The customer's active entitlements: one per feature lookup key."""
    obj = example_object("entitlements.active_entitlement_summary")
    template = obj["entitlements"]["data"][0]
    data = []
    for n, key in enumerate(lookup_keys):
        feature = {**template["feature"], "id": f"feat_{n}", "lookup_key": key, "name": key}
        data.append({**template, "id": f"ent_{n}", "lookup_key": key, "feature": feature})
    obj["customer"] = customer
    obj["entitlements"].update(
        data=data, has_more=False, url="/v1/entitlements/active_entitlements"
    )
    return obj
