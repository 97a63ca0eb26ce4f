"""Which subscription speaks for an account when it has several: one rule, pure.

The read API (`billing` of an account, entitlement) and the commands that act on "the
account's subscription" when no id is given (`subscription.cancel`, `.resume`,
`.change_plan`, `invoice.preview`) both ask this module, so they never pick different ones.

Best status first — active and trialing alike, then past_due, then unpaid and paused alike,
then incomplete, canceled, incomplete_expired — then the newest (Stripe's `created`), then
the smaller id, so the choice is the same whatever order the rows come in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from domain.mirror.statuses import SubscriptionStatus

# Lower is preferred; equal values are told apart by age.
PREFERENCE = {
    SubscriptionStatus.ACTIVE: 0,
    SubscriptionStatus.TRIALING: 0,
    SubscriptionStatus.PAST_DUE: 1,
    SubscriptionStatus.UNPAID: 2,
    SubscriptionStatus.PAUSED: 2,
    SubscriptionStatus.INCOMPLETE: 3,
    SubscriptionStatus.CANCELED: 4,
    SubscriptionStatus.INCOMPLETE_EXPIRED: 5,
}
# Statuses a subscription can still be acted on in (cancelled, resumed, changed).
LIVE = frozenset(PREFERENCE) - {SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED}


class Candidate(Protocol):
    """What the choice looks at."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> SubscriptionStatus: ...

    @property
    def created(self) -> datetime | None: ...


C = TypeVar("C", bound=Candidate)


@dataclass(frozen=True, slots=True)
class SubscriptionRef:
    """A subscription reduced to what the choice needs (for callers without richer facts)."""

    id: str
    status: SubscriptionStatus
    created: datetime | None


def _rank(sub: Candidate) -> tuple[int, float, str]:
    return PREFERENCE[sub.status], -(sub.created.timestamp() if sub.created else 0.0), sub.id


def speaking_subscription(subs: Iterable[C]) -> C | None:
    """The subscription that speaks for the account: best status, then newest, then id."""
    return min(subs, key=_rank, default=None)


def live_speaking_subscription(subs: Iterable[C]) -> C | None:
    """The speaking subscription if it can still be acted on, else None."""
    chosen = speaking_subscription(subs)
    return chosen if chosen is not None and chosen.status in LIVE else None
