"""The credit rules, pure: consume, period grants, expiry, period moves, entitlement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.credits import rules
from domain.mirror.statuses import SubscriptionStatus as S

START = datetime(2026, 11, 1, tzinfo=UTC)
GRACE = timedelta(days=7)


def test_a_consume_within_the_balance_spends_it() -> None:
    assert rules.decide_consume(10, 4, payg=False) == rules.ConsumeDecision(True, 4, 0, 6)
    assert rules.decide_consume(4, 4, payg=False) == rules.ConsumeDecision(True, 4, 0, 0)


def test_short_without_payg_is_refused_and_spends_nothing() -> None:
    assert rules.decide_consume(3, 4, payg=False) == rules.ConsumeDecision(False, 0, 0, 3)


def test_short_with_payg_spends_what_is_left_and_the_rest_is_overage() -> None:
    assert rules.decide_consume(3, 10, payg=True) == rules.ConsumeDecision(True, 3, 7, 0)
    assert rules.decide_consume(0, 5, payg=True) == rules.ConsumeDecision(True, 0, 5, 0)


def test_a_negative_balance_counts_as_nothing_left() -> None:
    assert rules.decide_consume(-2, 1, payg=False).remaining == 0


def test_a_consume_must_be_positive() -> None:
    with pytest.raises(ValueError):
        rules.decide_consume(5, 0, payg=False)


def test_a_period_gets_its_allowance_once_and_an_upgrade_the_difference() -> None:
    assert rules.period_grant(4000, 0) == 4000
    assert rules.period_grant(4000, 4000) == 0  # a replay
    assert rules.period_grant(20000, 4000) == 16000  # upgraded mid-period
    assert rules.period_grant(1000, 4000) == 0  # a downgrade takes nothing back


def test_the_unused_allowance_expires_unless_rollover() -> None:
    assert rules.expire_amount(1500, 4000, 3000, rollover=False) == 1000
    assert rules.expire_amount(500, 4000, 3000, rollover=False) == 500  # never below zero
    assert rules.expire_amount(6000, 4000, 0, rollover=False) == 4000  # a manual grant stays
    assert rules.expire_amount(1500, 4000, 3000, rollover=True) == 0
    assert rules.expire_amount(0, 4000, 5000, rollover=False) == 0


def test_the_period_moves_forward_only() -> None:
    assert rules.period_moves(None, START)
    assert rules.period_moves(START, START + timedelta(days=30))
    assert not rules.period_moves(START, START)
    assert not rules.period_moves(START, START - timedelta(days=30))


@pytest.mark.parametrize(
    ("status", "days_after_start", "expected"),
    [
        (S.ACTIVE, 0, True),
        (S.TRIALING, 0, True),
        (S.PAST_DUE, 1, True),  # the renewal's payment failed: Stripe retries, grace
        (S.PAST_DUE, 8, False),  # past the grace period
        (S.INCOMPLETE, 0, False),  # the first payment is not made yet
        (S.UNPAID, 0, False),
        (S.CANCELED, 0, False),
        (S.PAUSED, 0, False),
    ],
)
def test_the_allowance_follows_the_entitlement_rule(
    status: S, days_after_start: int, expected: bool
) -> None:
    at = START + timedelta(days=days_after_start)
    assert rules.entitled_for_grant(status, START, at, GRACE) is expected


def test_without_a_period_nothing_is_due() -> None:
    assert not rules.entitled_for_grant(S.ACTIVE, None, START, GRACE)


@pytest.mark.parametrize(
    ("target", "credited", "remaining", "change"),
    [
        (300, 300, 300, 0),  # unchanged
        (500, 300, 300, 200),  # more: the difference
        (500, 300, 0, 200),  # more, even when all of it was spent
        (100, 300, 300, -200),  # fewer: the difference taken back
        (100, 300, 50, -50),  # but never more than is left (spent stays spent)
        (100, 300, 0, 0),
        (100, 300, -5, 0),  # odd inputs never add
        (600, 250, 0, 350),  # a rise after a capped fall grants up to the new number
    ],
)
def test_a_stripe_grants_new_credits_adjust_by_the_difference(
    target: int, credited: int, remaining: int, change: int
) -> None:
    assert rules.credits_change(target, credited, remaining) == change
