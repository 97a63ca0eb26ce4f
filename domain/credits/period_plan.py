"""Period allowances planned in order from locked balance rows (pure: no database).

`domain.credits.period` collects the allowances subscription events say are due
(`PeriodDue`), locks the accounts' balance rows, reads what their periods were granted, and
asks `plan_period_grants` what to write: one event's dues, or a whole batch's at once. The
plan takes the dues in the order their events were applied, so a batch grants exactly what
the same events one at a time would have:

- a period older than the account's current one has ended: nothing;
- the period's allowance less what that subscription's period already got (a mid-period
  upgrade grants the difference, once per allowance reached; a downgrade takes nothing);
- when the account's period moves forward, the previous period's unused allowance expires
  first (unless rollover), then the period totals restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.credits import rules
from domain.credits.tables import EntryKind

Period = tuple[datetime | None, datetime | None]


@dataclass(frozen=True, slots=True)
class PeriodDue:
    """A subscription period's allowance its event says is due (entitled at the event's time)."""

    customer_id: str
    subscription_id: str
    start: datetime
    end: datetime | None
    allowance: int


@dataclass(slots=True)
class AccountState:
    """One account's locked balance row, as far as period grants go; the plan moves it."""

    balance: int
    period_start: datetime | None
    period_end: datetime | None
    consumed: int


@dataclass(frozen=True, slots=True)
class PlannedEntry:
    """A ledger entry the plan appends; `period` is the account period it counts in."""

    entry_id: str
    account_ref: str
    kind: EntryKind
    credits: int
    reason: str
    period: Period
    expires_at: datetime | None = None
    subscription_id: str | None = None


@dataclass(slots=True)
class GrantPlan:
    """The entries to append, in order, and the accounts whose period moved (to where)."""

    entries: list[PlannedEntry] = field(default_factory=list)
    moved: dict[str, Period] = field(default_factory=dict)


def period_entry_id(subscription_id: str, period_start: datetime) -> str:
    return f"period:{subscription_id}:{int(period_start.timestamp())}"


def expire_entry_id(account_ref: str, period_start: datetime) -> str:
    return f"expire:{account_ref}:{int(period_start.timestamp())}"


def plan_period_grants(
    dues: list[tuple[str, PeriodDue]],
    accounts: dict[str, AccountState],
    granted: dict[tuple[str, str, datetime], int],
    *,
    rollover: bool,
) -> GrantPlan:
    """Plan `(account_ref, due)` pairs in order.

    `accounts` holds every named account's locked row (moved in place as the plan goes);
    `granted` what period grants already gave (account, subscription, period start), for
    the dues' periods and the accounts' current ones (updated in place too).
    """
    plan = GrantPlan()
    for account_ref, due in dues:
        state = accounts[account_ref]
        if state.period_start is not None and due.start < state.period_start:
            continue  # a period older than the account's current one has ended
        already = granted.get((account_ref, due.subscription_id, due.start), 0)
        amount = rules.period_grant(due.allowance, already)
        if amount == 0:
            continue
        if rules.period_moves(state.period_start, due.start):
            _expire_previous(plan, account_ref, state, granted, rollover)
            state.period_start, state.period_end, state.consumed = due.start, due.end, 0
            plan.moved[account_ref] = (due.start, due.end)
        entry_id = period_entry_id(due.subscription_id, due.start)
        if already:  # a plan change mid-period: the difference, once per allowance reached
            entry_id = f"{entry_id}:{due.allowance}"
        plan.entries.append(
            PlannedEntry(
                entry_id=entry_id,
                account_ref=account_ref,
                kind=EntryKind.GRANT,
                credits=amount,
                reason="period allowance" if not already else "plan change: the difference",
                period=(state.period_start, state.period_end),
                expires_at=None if rollover else due.end,
                subscription_id=due.subscription_id,
            )
        )
        state.balance += amount
        key = (account_ref, due.subscription_id, due.start)
        granted[key] = already + amount
    return plan


def _expire_previous(
    plan: GrantPlan,
    account_ref: str,
    state: AccountState,
    granted: dict[tuple[str, str, datetime], int],
    rollover: bool,
) -> None:
    start = state.period_start
    if start is None:
        return
    in_period = sum(v for (a, _, s), v in granted.items() if a == account_ref and s == start)
    amount = rules.expire_amount(state.balance, in_period, state.consumed, rollover=rollover)
    if amount == 0:
        return
    plan.entries.append(
        PlannedEntry(
            entry_id=expire_entry_id(account_ref, start),
            account_ref=account_ref,
            kind=EntryKind.EXPIRE,
            credits=-amount,
            reason="unused period allowance",
            period=(start, state.period_end),
        )
    )
    state.balance -= amount
