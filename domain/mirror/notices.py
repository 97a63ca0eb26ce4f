"""Which notifications an event produces: a pure function of the event alone.

They depend on the event, never on the arrival order, so every ordering of the same events
yields the same set, and (event_id, kind) being unique makes replays write nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.mirror.statuses import NotificationKind, SubscriptionStatus
from domain.mirror.views import CheckoutView, InvoiceView, SubscriptionView, previous_price_id
from domain.plans import PlanCatalog

ENTITLED = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING})
# Coming out of these into active/trialing means the customer starts (or starts paying).
NOT_YET_ACTIVE = frozenset(
    {SubscriptionStatus.INCOMPLETE, SubscriptionStatus.PAUSED, SubscriptionStatus.TRIALING}
)


@dataclass(frozen=True, slots=True)
class Notice:
    """A notification to write to the outbox."""

    kind: NotificationKind
    payload: dict[str, Any]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _subscription_payload(view: SubscriptionView, catalog: PlanCatalog) -> dict[str, Any]:
    item = view.primary_item
    plan = catalog.lookup(item.price_id if item else None, item.interval if item else None)
    return {
        "subscription_id": view.id,
        "status": view.status.value,
        "price_id": item.price_id if item else None,
        "plan_tier": plan.tier,
        "plan_interval": plan.interval,
        "current_period_end": _iso(view.current_period_end),
        "cancel_at_period_end": view.cancel_at_period_end,
    }


def _activated(event_type: str, view: SubscriptionView, previous: dict[str, Any]) -> bool:
    if view.status not in ENTITLED:
        return False
    if event_type in ("customer.subscription.created", "customer.subscription.resumed"):
        return True
    before = previous.get("status")
    if event_type != "customer.subscription.updated" or before is None:
        return False
    return before in NOT_YET_ACTIVE and before != view.status


def subscription_notices(
    event_type: str, view: SubscriptionView, previous: dict[str, Any], catalog: PlanCatalog
) -> list[Notice]:
    """Activated / plan changed / canceled / trial ending, from one subscription event."""
    payload = _subscription_payload(view, catalog)
    notices: list[Notice] = []
    if _activated(event_type, view, previous):
        notices.append(Notice(NotificationKind.SUBSCRIPTION_ACTIVATED, payload))
    if event_type == "customer.subscription.updated":
        before = previous_price_id(previous)
        now = payload["price_id"]
        if before is not None and now is not None and before != now:
            old = catalog.lookup(before)
            changed = {**payload, "previous_price_id": before, "previous_plan_tier": old.tier}
            notices.append(Notice(NotificationKind.SUBSCRIPTION_PLAN_CHANGED, changed))
    if event_type == "customer.subscription.deleted":
        notices.append(Notice(NotificationKind.SUBSCRIPTION_CANCELED, payload))
    if event_type == "customer.subscription.trial_will_end":
        trial = {**payload, "trial_end": _iso(view.trial_end)}
        notices.append(Notice(NotificationKind.TRIAL_WILL_END, trial))
    return notices


INVOICE_KINDS = {
    "invoice.payment_failed": NotificationKind.PAYMENT_FAILED,
    "invoice.payment_action_required": NotificationKind.PAYMENT_ACTION_REQUIRED,
}


def invoice_notices(event_type: str, view: InvoiceView) -> list[Notice]:
    """Payment failed / action required, from one invoice event."""
    kind = INVOICE_KINDS.get(event_type)
    if kind is None or view.id is None:
        return []
    payload = {
        "invoice_id": view.id,
        "subscription_id": view.subscription_id,
        "amount_due": view.amount_due,
        "currency": view.currency,
        "attempt_count": view.attempt_count,
        "next_payment_attempt": _iso(view.next_payment_attempt),
        "hosted_invoice_url": view.hosted_invoice_url,
    }
    return [Notice(kind, payload)]


def checkout_notices(event_type: str, view: CheckoutView) -> list[Notice]:
    """An asynchronous payment (iDEAL, SEPA) of a checkout failed."""
    if event_type != "checkout.session.async_payment_failed":
        return []
    payload = {
        "checkout_session_id": view.id,
        "subscription_id": view.subscription_id,
        "amount_total": view.amount_total,
        "currency": view.currency,
    }
    return [Notice(NotificationKind.CHECKOUT_ASYNC_PAYMENT_FAILED, payload)]
