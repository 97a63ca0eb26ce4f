"""Entitlement: is an account paying, on which plan, until when? (pure functions)

`entitled` is true for `active` and `trialing`, and for `past_due` while the grace period
(ENTITLEMENT_GRACE_DAYS, default 7) since the first failed, still unpaid invoice lasts:
Stripe keeps retrying the payment meanwhile. Every other status, and a deleted customer,
is not entitled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.mirror.choice import speaking_subscription
from domain.mirror.statuses import SubscriptionStatus

ENTITLED = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING})


@dataclass(frozen=True, slots=True)
class SubscriptionFacts:
    """What entitlement needs to know about one subscription."""

    id: str
    status: SubscriptionStatus
    plan_tier: str
    plan_interval: str | None
    price_id: str | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    created: datetime | None
    # When the oldest still-unpaid failed invoice was created (start of the dunning period).
    unpaid_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class PaymentMethodSummary:
    """The default payment method as the product shows it (never the full number)."""

    id: str
    type: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True, slots=True)
class BillingStatus:
    """The answer to the product's main question about an account."""

    account_ref: str
    subscription_id: str | None
    plan_tier: str | None
    plan_interval: str | None
    status: SubscriptionStatus | None
    entitled: bool
    grace_until: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    default_payment_method: PaymentMethodSummary | None


def choose_subscription(subs: Iterable[SubscriptionFacts]) -> SubscriptionFacts | None:
    """The subscription that speaks for the account (the rule of `domain.mirror.choice`)."""
    return speaking_subscription(subs)


def grace_deadline(sub: SubscriptionFacts, grace: timedelta) -> datetime | None:
    """Until when a past_due subscription stays entitled (None when not past_due)."""
    if sub.status is not SubscriptionStatus.PAST_DUE:
        return None
    since = sub.unpaid_since or sub.current_period_start
    return since + grace if since is not None else None


def is_entitled(sub: SubscriptionFacts | None, now: datetime, grace: timedelta) -> bool:
    """Active or trialing, or past_due within the grace period."""
    if sub is None:
        return False
    if sub.status in ENTITLED:
        return True
    deadline = grace_deadline(sub, grace)
    return deadline is not None and now < deadline


def billing_status(
    account_ref: str,
    subs: Iterable[SubscriptionFacts],
    payment_method: PaymentMethodSummary | None,
    *,
    deleted: bool,
    now: datetime,
    grace: timedelta,
) -> BillingStatus:
    """Combine an account's subscriptions into its billing status."""
    sub = choose_subscription(subs)
    return BillingStatus(
        account_ref=account_ref,
        subscription_id=sub.id if sub else None,
        plan_tier=sub.plan_tier if sub else None,
        plan_interval=sub.plan_interval if sub else None,
        status=sub.status if sub else None,
        # Stripe cancels a deleted customer's subscriptions; do not wait for those events.
        entitled=not deleted and is_entitled(sub, now, grace),
        grace_until=grace_deadline(sub, grace) if sub else None,
        current_period_end=sub.current_period_end if sub else None,
        cancel_at_period_end=sub.cancel_at_period_end if sub else False,
        default_payment_method=payment_method,
    )
