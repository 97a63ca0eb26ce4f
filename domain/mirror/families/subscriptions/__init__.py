"""customer.subscription.* events -> subscriptions and their items (replaced as a set).

A package rather than one module because it is the largest family: `view` (both API
shapes), `rules` (rank, transition, notices: pure), `tables`; the declaration is here.
"""

from __future__ import annotations

from datetime import datetime

from domain.credits.period import grant_for_subscription
from domain.envelope import EventEnvelope
from domain.mirror.families._family import Family, Refs
from domain.mirror.families._read import Child, Listing, ReadShape
from domain.mirror.families.subscriptions.rules import (
    KINDS,
    SubscriptionChange,
    subscription_notices,
    subscription_rank,
    subscription_transition,
)
from domain.mirror.families.subscriptions.tables import (
    ITEMS,
    SUBSCRIPTIONS,
    Subscription,
    SubscriptionItem,
)
from domain.mirror.families.subscriptions.view import SubscriptionView, parse_subscription
from domain.mirror.statuses import SubscriptionStatus
from domain.mirror.store import replace_children, upsert_stamped
from domain.mirror.unit import Unit


def subscription_refs(view: SubscriptionView, event: EventEnvelope) -> Refs:
    return Refs(view.id, view.customer_id)


def write_subscription(unit: Unit, change: SubscriptionChange, now: datetime) -> None:
    """Upsert the subscription, then make its item rows exactly the event's items; then
    grant the period's credits the row says are due (domain.credits.period, idempotent)."""
    upsert_stamped(unit, SUBSCRIPTIONS, change.row, now)
    replace_children(unit, ITEMS, "subscription_id", change.row["id"], change.items, now)
    grant_for_subscription(unit, change.row, now)


ITEM_SHAPE = ReadShape(
    "SubscriptionItem",
    ITEMS,
    "One price line of the subscription.",
    hidden=frozenset({"subscription_id", "current_period_start", "current_period_end"}),
    money={"unit_amount": "currency"},
)
LISTING = Listing(
    summary="Subscriptions, newest first",
    shape=ReadShape(
        "Subscription",
        SUBSCRIPTIONS,
        "A subscription of the account.",
        money={"unit_amount": "currency"},
        children={"items": Child(ITEM_SHAPE, "subscription_id")},
    ),
    status=SubscriptionStatus,
)

FAMILY = Family(
    name="subscriptions",
    object_type="subscription",
    event_types=(
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.paused",
        "customer.subscription.resumed",
        "customer.subscription.trial_will_end",
    ),
    parse=parse_subscription,
    refs=subscription_refs,
    rank=subscription_rank,
    transition=subscription_transition,
    table=SUBSCRIPTIONS,
    notices=subscription_notices,
    kinds=KINDS,
    write=write_subscription,
    listing=LISTING,
)

__all__ = ["FAMILY", "Subscription", "SubscriptionItem", "SubscriptionView", "parse_subscription"]
