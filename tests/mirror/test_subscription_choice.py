"""domain.mirror.choice: the one rule for which subscription speaks for an account."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from domain.mirror.choice import (
    LIVE,
    SubscriptionRef,
    live_speaking_subscription,
    speaking_subscription,
)
from domain.mirror.statuses import SubscriptionStatus as S

T = datetime(2026, 1, 1, tzinfo=UTC)


def ref(sub_id: str, status: S, days_old: float | None = 0) -> SubscriptionRef:
    return SubscriptionRef(sub_id, status, None if days_old is None else T - timedelta(days_old))


@pytest.mark.parametrize(
    ("subs", "speaks"),
    [
        # Equal standing: the newest speaks, whichever of the pair it is.
        ([ref("sub_a", S.ACTIVE, 9), ref("sub_t", S.TRIALING, 1)], "sub_t"),
        ([ref("sub_a", S.ACTIVE, 1), ref("sub_t", S.TRIALING, 9)], "sub_a"),
        ([ref("sub_u", S.UNPAID, 9), ref("sub_p", S.PAUSED, 1)], "sub_p"),
        ([ref("sub_u", S.UNPAID, 1), ref("sub_p", S.PAUSED, 9)], "sub_u"),
        # A better status beats a newer one.
        ([ref("sub_d", S.PAST_DUE, 1), ref("sub_a", S.ACTIVE, 99)], "sub_a"),
        ([ref("sub_i", S.INCOMPLETE, 1), ref("sub_u", S.UNPAID, 99)], "sub_u"),
        ([ref("sub_c", S.CANCELED, 1), ref("sub_i", S.INCOMPLETE, 99)], "sub_i"),
        ([ref("sub_x", S.INCOMPLETE_EXPIRED, 1), ref("sub_c", S.CANCELED, 99)], "sub_c"),
        # Same second: the smaller id; no `created` counts as oldest.
        ([ref("sub_b", S.ACTIVE), ref("sub_a", S.ACTIVE)], "sub_a"),
        ([ref("sub_a", S.ACTIVE, None), ref("sub_b", S.ACTIVE, 500)], "sub_b"),
    ],
)
def test_the_speaking_subscription_whatever_the_order(
    subs: list[SubscriptionRef], speaks: str
) -> None:
    for order in itertools.permutations(subs):
        assert speaking_subscription(order).id == speaks  # type: ignore[union-attr]


def test_nothing_to_choose_from() -> None:
    assert speaking_subscription([]) is None
    assert live_speaking_subscription([]) is None


def test_commands_act_only_on_a_live_speaker() -> None:
    assert live_speaking_subscription([ref("sub_c", S.CANCELED)]) is None
    assert live_speaking_subscription([ref("sub_x", S.INCOMPLETE_EXPIRED)]) is None
    mixed = [ref("sub_c", S.CANCELED, 0), ref("sub_p", S.PAUSED, 50)]
    assert live_speaking_subscription(mixed) == speaking_subscription(mixed) == mixed[1]
    assert {S.CANCELED, S.INCOMPLETE_EXPIRED}.isdisjoint(LIVE) and S.INCOMPLETE in LIVE
