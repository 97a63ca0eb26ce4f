"""The credit rules, pure (no database): consume, period grants, expiry, period moves.

Integer credits throughout. The ledger module (`domain.credits.ledger`) applies these
decisions to the tables in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.mirror.entitlement import SubscriptionFacts, is_entitled
from domain.mirror.statuses import SubscriptionStatus


@dataclass(frozen=True, slots=True)
class ConsumeDecision:
    """What a consume of `credits` does to a balance.

    `allowed` False: refused (402), nothing recorded. Otherwise `taken` credits leave the
    balance and `overage` (pay-as-you-go only) is billed through the metered price.
    """

    allowed: bool
    taken: int
    overage: int
    remaining: int


def decide_consume(balance: int, credits: int, *, payg: bool) -> ConsumeDecision:
    """Spend from the balance; short without pay-as-you-go is a refusal, with it an overage."""
    if credits <= 0:
        raise ValueError("credits must be positive")
    available = max(balance, 0)
    if credits <= available:
        return ConsumeDecision(True, credits, 0, available - credits)
    if not payg:
        return ConsumeDecision(False, 0, 0, available)
    return ConsumeDecision(True, available, credits - available, 0)


def period_grant(allowance: int, already_granted: int) -> int:
    """Credits still to grant for a subscription period: its allowance less what it got.

    A plan change mid-period grants the difference when the new plan includes more; a
    downgrade takes nothing back (the credits were granted, the customer may have used them).
    """
    return max(allowance - already_granted, 0)


def expire_amount(
    balance: int, period_granted: int, period_consumed: int, *, rollover: bool
) -> int:
    """Credits of an ended period's allowance that expire when the next period is granted.

    Consumption is taken from the period's allowance first, so what expires is the unused
    allowance, never more than the balance (manual grants added on top stay).
    """
    if rollover:
        return 0
    unused = max(period_granted - period_consumed, 0)
    return max(min(balance, unused), 0)


def period_moves(current_start: datetime | None, new_start: datetime) -> bool:
    """The account's period moves forward only (an older period's event never moves it back)."""
    return current_start is None or new_start > current_start


def entitled_for_grant(
    status: SubscriptionStatus,
    period_start: datetime | None,
    at: datetime,
    grace: timedelta,
) -> bool:
    """Is a subscription's period allowance due, by the entitlement rule, at `at`?

    Active and trialing: yes. past_due (the renewal's payment failed, Stripe retries): yes
    while the grace period since the period started lasts. incomplete (the first payment
    is not made): no, until the payment turns it active. Anything else: no.
    """
    if period_start is None:
        return False
    facts = SubscriptionFacts(
        id="",
        status=status,
        plan_tier="",
        plan_interval=None,
        price_id=None,
        current_period_start=period_start,
        current_period_end=None,
        cancel_at_period_end=False,
        created=None,
    )
    return is_entitled(facts, at, grace)


def grant_remaining(credits: int, spent_since: int, taken_back: int, balance: int) -> int:
    """What is left of a grant that expires (or is voided): what an `expire` entry takes.

    Consumption after the grant is counted against it first (the credits that end soonest
    are spent first, in the customer's favour), and what was taken back already (an expiry
    or a void) is not taken twice; never more than the balance, never negative.
    """
    left = credits - max(spent_since, 0) - max(taken_back, 0)
    return max(min(left, balance), 0)


def credits_change(target: int, credited: int, remaining: int) -> int:
    """The `adjust` a Stripe grant's new `metadata.credits` makes: the difference.

    `credited` is what the grant gave so far (its entry and earlier adjustments),
    `remaining` what is left of it (`grant_remaining`). More credits: the difference is
    granted. Fewer: the difference is taken back, but never more than what is left (what
    was spent stays spent), so a later rise grants only up to the new number.
    """
    if target >= credited:
        return target - credited
    return -min(credited - target, max(remaining, 0))
