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
  expires first (unless rollover), then the account's period totals restart.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from domain.credits import ledger, rules
from domain.credits.grants import grant_for_customer_grants
from domain.credits.tables import ENTRIES, EntryKind, EntrySource
from domain.mirror.accounts import ACCOUNTS
from domain.mirror.statuses import SubscriptionStatus
from domain.mirror.unit import Deps

log = structlog.get_logger("domain.credits")


def period_entry_id(subscription_id: str, period_start: datetime) -> str:
    return f"period:{subscription_id}:{int(period_start.timestamp())}"


def grant_for_customer(
    session: Session, customer_id: str | None, deps: Deps, now: datetime
) -> None:
    """After an account is linked to `customer_id`: grant its subscriptions' due allowances.

    A subscription's events may come before the event linking its customer to an account
    (checkout.session.completed, customer metadata): their grant waits for the link.
    """
    if customer_id is None:
        return
    grant_for_customer_grants(session, customer_id, now)  # its Stripe credit grants'
    if not deps.catalog.grants_credits:
        return
    # Imported here: the subscriptions family imports this module for its own grants.
    from domain.mirror.families.subscriptions.tables import SUBSCRIPTIONS

    stmt = select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.stripe_customer_id == customer_id)
    for sub in session.execute(stmt).mappings().all():
        grant_for_subscription(session, dict(sub), deps, now)


def grant_for_subscription(
    session: Session, row: dict[str, Any], deps: Deps, now: datetime
) -> None:
    """Grant the written subscription row's period allowance, if due and not granted yet."""
    start, end = row.get("current_period_start"), row.get("current_period_end")
    allowance = deps.catalog.credits_for(row.get("price_id"))
    created = row.get("last_event_created")  # the event's time (Unix seconds): replays agree
    at = datetime.fromtimestamp(created, UTC) if isinstance(created, int) else now
    status = SubscriptionStatus(row["status"])
    if (
        allowance <= 0
        or start is None
        or not rules.entitled_for_grant(status, start, at, deps.grace)
    ):
        return
    # Most subscription events fall in a period already granted in full: one unlocked read
    # finds the account and what the period got (period grants only ever add up), and
    # nothing is locked.
    found = session.execute(
        _GRANT_STATE,
        {"p_customer": row.get("stripe_customer_id"), "p_sub": row["id"], "p_start": start},
    ).first()
    if found is None or found.account_ref is None:
        return  # not linked yet: the subscription's next event (or the link itself) grants
    if rules.period_grant(allowance, int(found.granted)) == 0:
        return
    grant_period(
        session,
        account_ref=found.account_ref,
        subscription_id=row["id"],
        period=(start, end),
        allowance=allowance,
        rollover=deps.rollover,
        now=now,
    )


def _grant_state() -> Any:
    """The account linked to a customer and what one subscription's period was granted."""
    e = ENTRIES.c
    granted = (
        select(func.coalesce(func.sum(e.credits), 0))
        .where(
            e.account_ref == ACCOUNTS.c.account_ref,
            e.subscription_id == bindparam("p_sub"),
            e.period_start == bindparam("p_start", type_=e.period_start.type),
            e.source == EntrySource.PERIOD.value,
            e.kind == EntryKind.GRANT.value,
        )
        .scalar_subquery()
    )
    return select(ACCOUNTS.c.account_ref, granted.label("granted")).where(
        ACCOUNTS.c.stripe_customer_id == bindparam("p_customer")
    )


_GRANT_STATE = _grant_state()  # built once (bound parameters): it runs on every event


def grant_period(
    session: Session,
    *,
    account_ref: str,
    subscription_id: str,
    period: tuple[datetime, datetime | None],
    allowance: int,
    rollover: bool,
    now: datetime,
) -> int:
    """Grant what the period still lacks of `allowance`; the credits granted (0: nothing)."""
    start, end = period
    balance = ledger.lock_or_create_balance(session, account_ref, now)
    if balance.period_start is not None and start < balance.period_start:
        return 0  # a period older than the account's current one has ended: nothing to grant
    already = ledger.period_granted(
        session, account_ref=account_ref, period_start=start, subscription_id=subscription_id
    )
    amount = rules.period_grant(allowance, already)
    if amount == 0:
        return 0
    current = (balance.period_start, balance.period_end)
    if rules.period_moves(balance.period_start, start):
        _expire_previous(session, account_ref, balance, rollover, now)
        ledger.start_period(session, account_ref, start, end, now)
        current = (start, end)
    entry_id = period_entry_id(subscription_id, start)
    if already:  # a plan change mid-period: the difference, once per allowance reached
        entry_id = f"{entry_id}:{allowance}"
    ledger.append(
        session,
        ledger.NewEntry(
            entry_id=entry_id,
            account_ref=account_ref,
            kind=EntryKind.GRANT,
            credits=amount,
            source=EntrySource.PERIOD,
            reason="period allowance" if not already else "plan change: the difference",
            expires_at=None if rollover else end,
            subscription_id=subscription_id,
        ),
        now,
        current=current,  # the balance row is locked above
    )
    log.info("credits.period_granted", subscription_id=subscription_id, credits=amount)
    return amount


def _expire_previous(
    session: Session, account_ref: str, balance: Any, rollover: bool, now: datetime
) -> None:
    if balance.period_start is None:
        return
    granted = ledger.period_granted(
        session, account_ref=account_ref, period_start=balance.period_start
    )
    amount = rules.expire_amount(balance.balance, granted, balance.consumed, rollover=rollover)
    if amount == 0:
        return
    ledger.append(
        session,
        ledger.NewEntry(
            entry_id=f"expire:{account_ref}:{int(balance.period_start.timestamp())}",
            account_ref=account_ref,
            kind=EntryKind.EXPIRE,
            credits=-amount,
            source=EntrySource.PERIOD,
            reason="unused period allowance",
        ),
        now,
        period=(balance.period_start, balance.period_end),
        current=(balance.period_start, balance.period_end),  # locked by the caller
    )
