"""Period allowance: a subscription's credits for the period its events say has started.

Called after a subscription event's row is written (the subscriptions family's `write`),
with the row as written: the newest state of the subscription, whatever order its events
came in. Granting is idempotent by (subscription, period start), so replays and
duplicates grant nothing twice:

- entitled (domain.credits.rules.entitled_for_grant, at the event's time): active or
  trialing, or past_due within the grace period; incomplete grants nothing until paid;
- the period's allowance is the plan catalog's `credits_per_period` of the subscription's
  price; what the period already got is subtracted (a mid-period upgrade grants the
  difference, a downgrade takes nothing back);
- when the account's period moves forward, the previous period's unused allowance
  expires first (unless rollover), then the account's period totals restart
  (the decisions: domain.credits.period_plan, pure).

An event applied alone grants in its own transaction at once. In a batch (several events in
one transaction) the dues wait in the batch and are granted together by
`grant_batch_dues`, in the order their events came: a fixed number of statements for the
whole batch, the same entries as one at a time. Anything else that writes the ledger in a
batch (a Stripe credit grant, a link that credits waiting subscriptions) first grants the
dues collected so far, so the ledger sees every write in event order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import BigInteger, bindparam, func, select, update
from sqlalchemy.orm import Session

from domain.credits import ledger, rules
from domain.credits.grants import grant_for_customer_grants
from domain.credits.period_plan import (
    AccountState,
    PeriodDue,
    PlannedEntry,
    plan_period_grants,
)
from domain.credits.tables import BALANCES, ENTRIES, EntryKind, EntrySource
from domain.event_log import dialect_insert
from domain.mirror.accounts import ACCOUNTS
from domain.mirror.statuses import SubscriptionStatus
from domain.mirror.store import flush_writes
from domain.mirror.unit import Deps, Unit

log = structlog.get_logger("domain.credits")


def grant_for_customer(unit: Unit, customer_id: str | None, now: datetime) -> None:
    """After an account is linked to `customer_id`: grant its subscriptions' due allowances.

    A subscription's events may come before the event linking its customer to an account
    (checkout.session.completed, customer metadata): their grant waits for the link.
    """
    if customer_id is None:
        return
    grant_batch_dues(unit, now)  # the ledger sees the batch's writes in event order
    grant_for_customer_grants(unit.session, customer_id, now)  # its Stripe credit grants'
    if not unit.deps.catalog.grants_credits:
        return
    # Imported here: the subscriptions family imports this module for its own grants.
    from domain.mirror.families.subscriptions.tables import SUBSCRIPTIONS

    flush_writes(unit)  # a batch's subscription rows are read as its events wrote them
    stmt = select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.stripe_customer_id == customer_id)
    for sub in unit.session.execute(stmt).mappings().all():
        grant_for_subscription(unit, dict(sub), now)


def grant_for_subscription(unit: Unit, row: dict[str, Any], now: datetime) -> None:
    """Grant the written subscription row's period allowance, if due and not granted yet
    (in a batch: when the batch's dues are granted)."""
    due = due_of(row, unit.deps, now)
    if due is None:
        return
    if unit.batch is not None:
        unit.batch.period_dues.append(due)
        return
    grant_dues(unit.session, [due], unit.deps.rollover, now)


def due_of(row: dict[str, Any], deps: Deps, now: datetime) -> PeriodDue | None:
    """The allowance a written subscription row says is due (pure), or None."""
    start, end = row.get("current_period_start"), row.get("current_period_end")
    allowance = deps.catalog.credits_for(row.get("price_id"))
    created = row.get("last_event_created")  # the event's time (Unix seconds): replays agree
    at = datetime.fromtimestamp(created, UTC) if isinstance(created, int) else now
    customer = row.get("stripe_customer_id")
    if (
        allowance <= 0
        or start is None
        or customer is None
        or not rules.entitled_for_grant(SubscriptionStatus(row["status"]), start, at, deps.grace)
    ):
        return None
    return PeriodDue(customer, row["id"], start, end, allowance)


def grant_batch_dues(unit: Unit, now: datetime) -> None:
    """Grant the dues the batch collected so far (nothing without a batch)."""
    batch = unit.batch
    if batch is None or not batch.period_dues:
        return
    dues, batch.period_dues = batch.period_dues, []
    grant_dues(unit.session, dues, unit.deps.rollover, now)


def grant_dues(session: Session, dues: Sequence[PeriodDue], rollover: bool, now: datetime) -> int:
    """Grant what the dues' periods still lack, in order; the credits granted.

    Most dues fall in a period already granted in full: one unlocked read says so (period
    grants only ever add up) and nothing is locked. The others lock their accounts' balance
    rows (in account order, at once), read again what their periods got, and append the
    planned entries and balance moves: one statement each.
    """
    linked = _linked_accounts(session, {d.customer_id for d in dues})
    wanted = [(a, d) for d in dues if (a := linked.get(d.customer_id)) is not None]
    if not wanted:
        return 0  # not linked yet: the subscription's next event (or the link itself) grants
    got = _granted(session, {a for a, _ in wanted}, {d.start for _, d in wanted})
    wanted = [
        (a, d)
        for a, d in wanted
        if rules.period_grant(d.allowance, got.get((a, d.subscription_id, d.start), 0)) > 0
    ]
    if not wanted:
        return 0
    accounts = _lock_balances(session, sorted({a for a, _ in wanted}), now)
    starts = {d.start for _, d in wanted} | {
        s.period_start for s in accounts.values() if s.period_start is not None
    }
    got = _granted(session, set(accounts), starts)  # again, under the locks
    current = {a: (s.period_start, s.period_end) for a, s in accounts.items()}
    plan = plan_period_grants(wanted, accounts, got, rollover=rollover)
    appended = _append(session, plan.entries, now)
    _move_balances(session, appended, current, plan.moved, now)
    granted = 0
    for entry in appended:
        if entry.kind is EntryKind.GRANT:
            granted += entry.credits
            log.info(
                "credits.period_granted",
                subscription_id=entry.subscription_id,
                credits=entry.credits,
            )
    return granted


_LINKED = select(ACCOUNTS.c.stripe_customer_id, ACCOUNTS.c.account_ref).where(
    ACCOUNTS.c.stripe_customer_id.in_(bindparam("p_customers", expanding=True))
)


def _linked_accounts(session: Session, customers: set[str]) -> dict[str, str | None]:
    rows = session.execute(_LINKED, {"p_customers": sorted(customers)})
    return {customer: account_ref for customer, account_ref in rows}


_GRANTED = (
    select(
        ENTRIES.c.account_ref,
        ENTRIES.c.subscription_id,
        ENTRIES.c.period_start,
        func.sum(ENTRIES.c.credits),
    )
    .where(
        ENTRIES.c.account_ref.in_(bindparam("p_accounts", expanding=True)),
        ENTRIES.c.period_start.in_(bindparam("p_starts", expanding=True)),
        ENTRIES.c.source == EntrySource.PERIOD.value,
        ENTRIES.c.kind == EntryKind.GRANT.value,
    )
    .group_by(ENTRIES.c.account_ref, ENTRIES.c.subscription_id, ENTRIES.c.period_start)
)


def _granted(
    session: Session, accounts: set[str], starts: set[datetime]
) -> dict[tuple[str, str, datetime], int]:
    """What period grants gave, per (account, subscription, period start)."""
    params = {"p_accounts": sorted(accounts), "p_starts": sorted(starts)}
    return {(a, s, p): int(total) for a, s, p, total in session.execute(_GRANTED, params)}


_LOCK_BALANCES = (
    select(
        BALANCES.c.account_ref,
        BALANCES.c.balance,
        BALANCES.c.period_start,
        BALANCES.c.period_end,
        BALANCES.c.consumed,
    )
    .where(BALANCES.c.account_ref.in_(bindparam("p_accounts", expanding=True)))
    .order_by(BALANCES.c.account_ref)  # locked in a fixed order: two batches never deadlock
    .with_for_update()
)


def _lock_balances(session: Session, accounts: list[str], now: datetime) -> dict[str, AccountState]:
    """The accounts' balance rows, created at zero where missing, locked for the transaction."""

    def lock() -> dict[str, AccountState]:
        rows = session.execute(_LOCK_BALANCES, {"p_accounts": accounts})
        return {
            r.account_ref: AccountState(r.balance, r.period_start, r.period_end, r.consumed)
            for r in rows
        }

    found = lock()
    missing = [a for a in accounts if a not in found]
    if missing:
        ledger.create_balances(session, missing, now)
        found = lock()
    return found


def _append(session: Session, entries: list[PlannedEntry], now: datetime) -> list[PlannedEntry]:
    """Insert the planned entries; the ones inserted (an id already there is skipped)."""
    if not entries:
        return []
    rows = [
        {
            "entry_id": e.entry_id,
            "account_ref": e.account_ref,
            "kind": e.kind.value,
            "credits": e.credits,
            "overage": 0,
            "source": EntrySource.PERIOD.value,
            "reason": e.reason,
            "expires_at": e.expires_at,
            "subscription_id": e.subscription_id,
            "period_start": e.period[0],
            "period_end": e.period[1],
            "answer": None,
            "created_at": now,
        }
        for e in entries
    ]
    stmt = (
        dialect_insert(session, ENTRIES)
        .on_conflict_do_nothing(index_elements=["entry_id"])
        .returning(ENTRIES.c.entry_id)
    )
    inserted = set(session.execute(stmt, rows).scalars())
    return [e for e in entries if e.entry_id in inserted]


def _move_balances(
    session: Session,
    appended: list[PlannedEntry],
    current: dict[str, tuple[datetime | None, datetime | None]],
    moved: dict[str, tuple[datetime | None, datetime | None]],
    now: datetime,
) -> None:
    """Move each account's balance by its appended entries; restart the moved periods' totals.

    An entry counts in the period totals when it counts in the account's period as it ends
    up (a grant of the new period after a move; an expiry of the old one never does).
    """
    deltas: dict[str, list[int]] = {}  # account -> [balance, granted in its final period]
    for e in appended:
        final = moved.get(e.account_ref, current[e.account_ref])
        totals = deltas.setdefault(e.account_ref, [0, 0])
        totals[0] += e.credits
        if e.kind is EntryKind.GRANT and e.period[0] == final[0]:
            totals[1] += e.credits
    stay = [
        {"p_account": a, "p_balance": b, "p_granted": g, "p_now": now}
        for a, (b, g) in sorted(deltas.items())
        if a not in moved
    ]
    move = []
    for a, (start, end) in sorted(moved.items()):
        b, g = deltas.get(a, (0, 0))
        row = {"p_account": a, "p_balance": b, "p_granted": g, "p_now": now}
        move.append({**row, "p_start": start, "p_end": end})
    if stay:
        session.execute(_ADD_TO_PERIOD, stay)
    if move:
        session.execute(_START_PERIOD, move)


_NOW = bindparam("p_now", type_=BALANCES.c.updated_at.type)
_ADD_TO_PERIOD = (
    update(BALANCES)
    .where(BALANCES.c.account_ref == bindparam("p_account"))
    .values(
        balance=BALANCES.c.balance + bindparam("p_balance", type_=BigInteger),
        granted=BALANCES.c.granted + bindparam("p_granted", type_=BigInteger),
        updated_at=_NOW,
    )
)
_START_PERIOD = (
    update(BALANCES)
    .where(BALANCES.c.account_ref == bindparam("p_account"))
    .values(
        balance=BALANCES.c.balance + bindparam("p_balance", type_=BigInteger),
        granted=bindparam("p_granted", type_=BigInteger),
        consumed=0,
        overage=0,
        period_start=bindparam("p_start", type_=BALANCES.c.period_start.type),
        period_end=bindparam("p_end", type_=BALANCES.c.period_end.type),
        updated_at=_NOW,
    )
)
