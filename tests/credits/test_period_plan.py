"""The period allowance plan (pure, no database): what a run of dues appends, in order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from domain.credits.period_plan import AccountState, PeriodDue, PlannedEntry, plan_period_grants
from domain.credits.tables import EntryKind

P1 = datetime(2026, 1, 1, tzinfo=UTC)
P2 = P1 + timedelta(days=31)
P3 = P2 + timedelta(days=28)
END = {P1: P2, P2: P3, P3: P3 + timedelta(days=31)}


def due(sub: str, start: datetime, allowance: int = 100) -> PeriodDue:
    return PeriodDue("cus_1", sub, start, END[start], allowance)


def state(balance: int = 0, start: datetime | None = None, consumed: int = 0) -> AccountState:
    return AccountState(balance, start, END[start] if start else None, consumed)


def entries(plan_entries: Sequence[PlannedEntry]) -> list[tuple[str, EntryKind, int]]:
    return [(e.entry_id, e.kind, e.credits) for e in plan_entries]


def test_a_new_account_gets_the_allowance_and_its_period_starts() -> None:
    accounts = {"acct": state()}
    plan = plan_period_grants([("acct", due("sub_a", P1))], accounts, {}, rollover=False)
    ts = int(P1.timestamp())
    assert entries(plan.entries) == [(f"period:sub_a:{ts}", EntryKind.GRANT, 100)]
    assert plan.entries[0].period == (P1, END[P1])
    assert plan.entries[0].expires_at == END[P1]
    assert plan.moved == {"acct": (P1, END[P1])}
    assert accounts["acct"] == AccountState(100, P1, END[P1], 0)


def test_a_period_granted_in_full_plans_nothing() -> None:
    granted = {("acct", "sub_a", P1): 100}
    plan = plan_period_grants(
        [("acct", due("sub_a", P1))], {"acct": state(100, P1)}, granted, rollover=False
    )
    assert plan.entries == [] and plan.moved == {}


def test_an_upgrade_grants_the_difference_once_and_a_downgrade_nothing() -> None:
    granted = {("acct", "sub_a", P1): 100}
    accounts = {"acct": state(100, P1)}
    dues = [("acct", due("sub_a", P1, 250)), ("acct", due("sub_a", P1, 250))]
    dues.append(("acct", due("sub_a", P1, 50)))
    plan = plan_period_grants(dues, accounts, granted, rollover=False)
    ts = int(P1.timestamp())
    assert entries(plan.entries) == [(f"period:sub_a:{ts}:250", EntryKind.GRANT, 150)]
    assert plan.entries[0].reason == "plan change: the difference"
    assert granted[("acct", "sub_a", P1)] == 250 and plan.moved == {}


def test_a_period_older_than_the_accounts_is_over() -> None:
    plan = plan_period_grants(
        [("acct", due("sub_a", P1))], {"acct": state(0, P2)}, {}, rollover=False
    )
    assert plan.entries == []


def test_a_move_expires_the_unused_allowance_of_every_subscription_first() -> None:
    # Two subscriptions granted 100 each in P1; 30 consumed; 20 of a manual grant on top.
    granted = {("acct", "sub_a", P1): 100, ("acct", "sub_b", P1): 100}
    accounts = {"acct": state(190, P1, consumed=30)}
    plan = plan_period_grants([("acct", due("sub_a", P2))], accounts, granted, rollover=False)
    assert entries(plan.entries) == [
        (f"expire:acct:{int(P1.timestamp())}", EntryKind.EXPIRE, -170),
        (f"period:sub_a:{int(P2.timestamp())}", EntryKind.GRANT, 100),
    ]
    assert plan.entries[0].period == (P1, END[P1])  # counts in the period it ends
    assert plan.moved == {"acct": (P2, END[P2])}
    assert accounts["acct"] == AccountState(120, P2, END[P2], 0)


def test_rollover_keeps_the_unused_allowance_and_no_expiry_date() -> None:
    granted = {("acct", "sub_a", P1): 100}
    plan = plan_period_grants(
        [("acct", due("sub_a", P2))], {"acct": state(100, P1)}, granted, rollover=True
    )
    assert [e.kind for e in plan.entries] == [EntryKind.GRANT]
    assert plan.entries[0].expires_at is None


def test_one_plan_over_several_periods_is_the_plans_one_after_another() -> None:
    """A batch's dues at once append what the same dues planned one at a time append."""
    dues = [
        ("acct", due("sub_a", P1)),
        ("acct", due("sub_b", P1, 40)),
        ("other", due("sub_c", P2)),
        ("acct", due("sub_a", P2, 300)),
        ("acct", due("sub_b", P1)),  # P1 is over for acct now: nothing
        ("acct", due("sub_a", P3)),
        ("other", due("sub_c", P2, 120)),
    ]
    together_accounts = {"acct": state(), "other": state(5, P1)}
    together = plan_period_grants(dues, together_accounts, {}, rollover=False)
    alone_accounts = {"acct": state(), "other": state(5, P1)}
    granted: dict[tuple[str, str, datetime], int] = {}
    alone = [
        e
        for d in dues
        for e in plan_period_grants([d], alone_accounts, granted, rollover=False).entries
    ]
    assert entries(together.entries) == entries(alone)
    assert together_accounts == alone_accounts
    assert together.moved == {"acct": (P3, END[P3]), "other": (P2, END[P2])}
    kinds = [(e.account_ref, e.kind, e.credits) for e in together.entries]
    assert kinds == [
        ("acct", EntryKind.GRANT, 100),
        ("acct", EntryKind.GRANT, 40),
        ("other", EntryKind.GRANT, 100),  # "other" had no period grant in P1: nothing expires
        ("acct", EntryKind.EXPIRE, -140),
        ("acct", EntryKind.GRANT, 300),
        ("acct", EntryKind.EXPIRE, -300),
        ("acct", EntryKind.GRANT, 100),
        ("other", EntryKind.GRANT, 20),
    ]
