"""The pure core of the subscriptions family: tie rank, transition, notifications."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.mirror.families._family import Incoming, Row
from domain.mirror.families.subscriptions.view import ItemView, SubscriptionView, previous_price_id
from domain.mirror.notices import Notice, iso
from domain.mirror.ordering import Stamp, tie_rank
from domain.mirror.statuses import NotificationKind, SubscriptionStatus
from domain.mirror.tables import stamp_columns
from domain.plans import PlanCatalog

# Lifecycle positions for same-second ties (see domain.mirror.ordering).
SUBSCRIPTION_RANK = {
    SubscriptionStatus.INCOMPLETE: 0,
    SubscriptionStatus.TRIALING: 1,
    SubscriptionStatus.ACTIVE: 2,
    SubscriptionStatus.PAST_DUE: 3,
    SubscriptionStatus.UNPAID: 4,
    SubscriptionStatus.PAUSED: 5,
    SubscriptionStatus.INCOMPLETE_EXPIRED: 6,
    SubscriptionStatus.CANCELED: 7,
}
SUBSCRIPTION_TERMINAL = frozenset(
    {SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED}
)
# The order events of one subscription are emitted in when its status does not tell them apart.
TYPE_PROGRESS = {"customer.subscription.created": 0, "customer.subscription.deleted": 2}


def subscription_rank(view: SubscriptionView, event_type: str) -> int:
    """Terminal status, lifecycle position, then the event type's place."""
    return tie_rank(
        terminal=view.status in SUBSCRIPTION_TERMINAL,
        status_rank=SUBSCRIPTION_RANK[view.status],
        progress=TYPE_PROGRESS.get(event_type, 1),
    )


@dataclass(frozen=True, slots=True)
class SubscriptionChange:
    """New values for a subscription row and the full set of its item rows."""

    row: Row
    items: tuple[Row, ...]


def _item_row(item: ItemView, subscription_id: str, catalog: PlanCatalog, stamp: Stamp) -> Row:
    plan = catalog.lookup(item.price_id, item.interval)
    return {
        "id": item.id,
        "subscription_id": subscription_id,
        "price_id": item.price_id,
        "plan_tier": plan.tier,
        "plan_interval": plan.interval,
        "quantity": item.quantity,
        "unit_amount": item.unit_amount,
        "currency": item.currency,
        "current_period_start": item.current_period_start,
        "current_period_end": item.current_period_end,
        "raw": item.raw,
        **stamp_columns(stamp),
    }


def subscription_transition(view: SubscriptionView, incoming: Incoming[None]) -> SubscriptionChange:
    """The subscription's new row and items; tier and interval from the plan catalog."""
    catalog, stamp = incoming.deps.catalog, incoming.stamp
    primary = view.plan_item(catalog.payg_price_id)
    plan = catalog.lookup(
        primary.price_id if primary else None, primary.interval if primary else None
    )
    row: Row = {
        "id": view.id,
        "stripe_customer_id": view.customer_id,
        "status": view.status,
        "price_id": primary.price_id if primary else None,
        "plan_tier": plan.tier,
        "plan_interval": plan.interval,
        "quantity": primary.quantity if primary else None,
        "unit_amount": primary.unit_amount if primary else None,
        "currency": view.currency or (primary.currency if primary else None),
        "current_period_start": view.current_period_start,
        "current_period_end": view.current_period_end,
        "cancel_at_period_end": view.cancel_at_period_end,
        "cancel_at": view.cancel_at,
        "canceled_at": view.canceled_at,
        "ended_at": view.ended_at,
        "trial_start": view.trial_start,
        "trial_end": view.trial_end,
        "default_payment_method_id": view.default_payment_method_id,
        "latest_invoice_id": view.latest_invoice_id,
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(stamp),
    }
    items = tuple(_item_row(i, view.id, catalog, stamp) for i in view.items)
    return SubscriptionChange(row, items)


KINDS = (
    NotificationKind.SUBSCRIPTION_ACTIVATED,
    NotificationKind.SUBSCRIPTION_PLAN_CHANGED,
    NotificationKind.SUBSCRIPTION_CANCELED,
    NotificationKind.TRIAL_WILL_END,
)
ENTITLED = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING})
# Coming out of these into active/trialing means the customer starts (or starts paying).
NOT_YET_ACTIVE = frozenset(
    {SubscriptionStatus.INCOMPLETE, SubscriptionStatus.PAUSED, SubscriptionStatus.TRIALING}
)


def _payload(view: SubscriptionView, catalog: PlanCatalog) -> dict[str, Any]:
    item = view.plan_item(catalog.payg_price_id)
    plan = catalog.lookup(item.price_id if item else None, item.interval if item else None)
    return {
        "subscription_id": view.id,
        "status": view.status.value,
        "price_id": item.price_id if item else None,
        "plan_tier": plan.tier,
        "plan_interval": plan.interval,
        "current_period_end": iso(view.current_period_end),
        "cancel_at_period_end": view.cancel_at_period_end,
    }


def _activated(event_type: str, view: SubscriptionView, previous: Mapping[str, Any]) -> bool:
    if view.status not in ENTITLED:
        return False
    if event_type in ("customer.subscription.created", "customer.subscription.resumed"):
        return True
    before = previous.get("status")
    if event_type != "customer.subscription.updated" or before is None:
        return False
    return before in NOT_YET_ACTIVE and before != view.status


def subscription_notices(view: SubscriptionView, incoming: Incoming[None]) -> list[Notice]:
    """Activated / plan changed / canceled / trial ending, from one subscription event."""
    event_type, previous, catalog = incoming.type, incoming.previous, incoming.deps.catalog
    payload = _payload(view, catalog)
    notices: list[Notice] = []
    if _activated(event_type, view, previous):
        notices.append(Notice(NotificationKind.SUBSCRIPTION_ACTIVATED, payload))
    if event_type == "customer.subscription.updated":
        before = previous_price_id(dict(previous), catalog.payg_price_id)
        now = payload["price_id"]
        if before is not None and now is not None and before != now:
            old = catalog.lookup(before)
            changed = {**payload, "previous_price_id": before, "previous_plan_tier": old.tier}
            notices.append(Notice(NotificationKind.SUBSCRIPTION_PLAN_CHANGED, changed))
    if event_type == "customer.subscription.deleted":
        notices.append(Notice(NotificationKind.SUBSCRIPTION_CANCELED, payload))
    if event_type == "customer.subscription.trial_will_end":
        trial = {**payload, "trial_end": iso(view.trial_end)}
        notices.append(Notice(NotificationKind.TRIAL_WILL_END, trial))
    return notices
