"""Typed views of a subscription and its items, in both API shapes.

Pre-2025 payloads carry `current_period_*` on the subscription, current ones on its items.
The payload decides; api_version breaks ties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.mirror.statuses import SubscriptionStatus
from domain.mirror.stripe_json import (
    ApiShape,
    ViewError,
    currency,
    list_data,
    opt_int,
    opt_str,
    ref_id,
    require_id,
    shape_from_version,
    sub,
    ts,
)


@dataclass(frozen=True, slots=True)
class ItemView:
    """One subscription item: its price and (current shape) its own billing period."""

    id: str
    price_id: str | None
    interval: str | None
    quantity: int | None
    unit_amount: int | None
    currency: str | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    raw: dict[str, Any] = field(repr=False)


def parse_item(obj: dict[str, Any]) -> ItemView:
    """An item of `subscription.items`; older payloads carry the price under `plan`."""
    price = obj.get("price") if isinstance(obj.get("price"), dict) else obj.get("plan")
    price = price if isinstance(price, dict) else {}
    interval = sub(price, "recurring", "interval") or price.get("interval")
    amount = opt_int(price.get("unit_amount"))
    return ItemView(
        id=require_id(obj, "subscription item"),
        price_id=opt_str(price.get("id")),
        interval=opt_str(interval),
        quantity=opt_int(obj.get("quantity")),
        unit_amount=amount if amount is not None else opt_int(price.get("amount")),
        currency=currency(price.get("currency")),
        current_period_start=ts(obj.get("current_period_start")),
        current_period_end=ts(obj.get("current_period_end")),
        raw=obj,
    )


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription with its period normalised across API shapes."""

    id: str
    customer_id: str | None
    status: SubscriptionStatus
    items: tuple[ItemView, ...]
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    cancel_at: datetime | None
    canceled_at: datetime | None
    ended_at: datetime | None
    trial_start: datetime | None
    trial_end: datetime | None
    default_payment_method_id: str | None
    latest_invoice_id: str | None
    currency: str | None
    created: datetime | None
    shape: ApiShape
    raw: dict[str, Any] = field(repr=False)

    def plan_item(self, payg_price_id: str | None = None) -> ItemView | None:
        """The item of the plan the product sells: the first one that is not the
        pay-as-you-go metered price (Stripe does not promise to list that one last)."""
        return next((i for i in self.items if i.price_id != payg_price_id), None) or next(
            iter(self.items), None
        )


def subscription_shape(obj: dict[str, Any], api_version: str | None) -> ApiShape:
    """Periods on the subscription mean pre-2025; periods on items mean current."""
    if "current_period_end" in obj or "current_period_start" in obj:
        return ApiShape.LEGACY
    if any("current_period_end" in i for i in list_data(obj.get("items"))):
        return ApiShape.CURRENT
    return shape_from_version(api_version)


def parse_subscription(obj: dict[str, Any], api_version: str | None = None) -> SubscriptionView:
    """Parse a subscription object in either API shape."""
    items = tuple(parse_item(i) for i in list_data(obj.get("items")))
    shape = subscription_shape(obj, api_version)
    start, end = ts(obj.get("current_period_start")), ts(obj.get("current_period_end"))
    if shape is ApiShape.CURRENT or (start is None and end is None):
        dated = next((i for i in items if i.current_period_end is not None), None)
        if dated is not None:
            start, end = dated.current_period_start, dated.current_period_end
    try:
        status = SubscriptionStatus(str(obj.get("status")))
    except ValueError:
        raise ViewError(f"unknown subscription status {obj.get('status')!r}") from None
    return SubscriptionView(
        id=require_id(obj, "subscription"),
        customer_id=ref_id(obj.get("customer")),
        status=status,
        items=items,
        current_period_start=start,
        current_period_end=end,
        cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
        cancel_at=ts(obj.get("cancel_at")),
        canceled_at=ts(obj.get("canceled_at")),
        ended_at=ts(obj.get("ended_at")),
        trial_start=ts(obj.get("trial_start")),
        trial_end=ts(obj.get("trial_end")),
        default_payment_method_id=ref_id(obj.get("default_payment_method")),
        latest_invoice_id=ref_id(obj.get("latest_invoice")),
        currency=currency(obj.get("currency")),
        created=ts(obj.get("created")),
        shape=shape,
        raw=obj,
    )


def previous_price_id(previous: dict[str, Any], payg_price_id: str | None = None) -> str | None:
    """The plan's price before an update, from previous_attributes (items, or legacy `plan`);
    the pay-as-you-go metered item is not the plan."""
    items = [parse_item(i) for i in list_data(previous.get("items"))]
    if items:
        plan = next((i for i in items if i.price_id != payg_price_id), items[0])
        return plan.price_id
    return ref_id(previous.get("plan")) or ref_id(previous.get("price"))
