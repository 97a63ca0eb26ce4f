"""Grants with an end: manual grants' expiry and Stripe Billing credit grants on the ledger.

- `expire_due_grants`: a periodic step (the sweeper's) that writes one `expire` entry,
  `expired:<grant entry id>`, for what is left of each manual or Stripe grant whose
  `expires_at` has passed (`rules.grant_remaining`: never more than the balance).
- `apply_stripe_grant`: a Stripe credit grant with `metadata.credits` grants that many
  product credits once (`stripe_grant:<grant id>`); a newer `metadata.credits` adjusts by
  the difference (`stripe_grant:<grant id>:credits:<stamp>`, an `adjust`); voided, it takes
  back what is left (`stripe_grant:<grant id>:void`, an `adjust`). A Stripe grant expires
  at the mirror's `expires_at` (the newest one Stripe sent), not the one its entry had.

Both run in the caller's transaction and are idempotent by their entry ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from domain.credits import ledger, rules
from domain.credits.tables import ENTRIES, EntryKind, EntrySource
from domain.mirror.accounts import account_ref_of

log = structlog.get_logger("domain.credits")

EXPIRED_PREFIX = "expired:"
VOID_SUFFIX = ":void"
STRIPE_GRANT_PREFIX = "stripe_grant:"
CREDITS_INFIX = ":credits:"
# The expiry step enforces manual and Stripe grants' expiry (a period's allowance expires
# when the next period is granted: domain.credits.period).
MAX_CREDITS = 10**12


def grant_credits(metadata: Any) -> int | None:
    """The product credits a Stripe grant's metadata names (`credits`), or None.

    Stripe metadata values are strings: a positive integer ("500") counts; anything else
    (absent, "0", "-5", "1.5", "lots") means the grant is mirrored only.
    """
    if not isinstance(metadata, dict):
        return None
    value = metadata.get("credits")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        return None
    return number if 0 < number <= MAX_CREDITS else None


def _entry(session: Session, entry_id: str) -> Any:
    return session.execute(select(ENTRIES).where(ENTRIES.c.entry_id == entry_id)).first()


def credits_prefix(grant_entry_id: str) -> str:
    """The start of the ids of a Stripe grant entry's `metadata.credits` adjustments."""
    return grant_entry_id + CREDITS_INFIX


def credited(session: Session, grant: Any) -> int:
    """What a grant entry gave: its credits plus its `metadata.credits` adjustments."""
    if grant.source != EntrySource.STRIPE_GRANT.value:
        return int(grant.credits)
    e = ENTRIES.c
    adjusted = session.execute(
        select(func.coalesce(func.sum(e.credits), 0)).where(
            e.account_ref == grant.account_ref,  # the account's index, then the prefix
            e.kind == EntryKind.ADJUST.value,
            e.entry_id.startswith(credits_prefix(grant.entry_id), autoescape=True),
        )
    ).scalar_one()
    return int(grant.credits) + int(adjusted)


def _remaining(session: Session, grant: Any, balance: int) -> int:
    """What is left of `grant` (a ledger row): what it gave (its credits, plus a Stripe
    grant's adjustments) less what was consumed after it and what was taken back already
    (expired or voided), never more than `balance`."""
    e = ENTRIES.c
    spent = session.execute(
        select(func.coalesce(func.sum(-e.credits), 0)).where(
            e.account_ref == grant.account_ref,
            e.kind == EntryKind.CONSUME.value,
            e.id > grant.id,
        )
    ).scalar_one()
    taken = session.execute(
        select(func.coalesce(func.sum(-e.credits), 0)).where(
            e.entry_id.in_([EXPIRED_PREFIX + grant.entry_id, grant.entry_id + VOID_SUFFIX])
        )
    ).scalar_one()
    return rules.grant_remaining(credited(session, grant), int(spent), int(taken), balance)


def expire_grant(session: Session, grant: Any, now: datetime) -> int:
    """Write the expiry of one grant entry (locks the balance); the credits it took."""
    balance = ledger.lock_or_create_balance(session, grant.account_ref, now)
    amount = _remaining(session, grant, balance.balance)
    new = ledger.append(
        session,
        ledger.NewEntry(
            entry_id=EXPIRED_PREFIX + grant.entry_id,
            account_ref=grant.account_ref,
            kind=EntryKind.EXPIRE,
            credits=-amount,
            source=EntrySource(grant.source),
            reason=f"expired grant {grant.entry_id}",
        ),
        now,
    )
    return amount if new else 0


def due_grants(session: Session, now: datetime, limit: int) -> list[Any]:
    """Manual and Stripe grant entries whose expiry passed and that have no expire entry.

    A Stripe grant's expiry is its mirrored row's `expires_at`: the newest Stripe sent, so
    a moved expiry moves what is left of the grant (the entry keeps the one it had).
    """
    # Imported here: the credit grants family imports this module for its writes.
    from domain.mirror.families.credit_grants import CREDIT_GRANTS

    e, g = ENTRIES.c, CREDIT_GRANTS.c
    done = ENTRIES.alias("done")
    pending = [
        e.kind == EntryKind.GRANT.value,
        ~select(done.c.id).where(done.c.entry_id == literal(EXPIRED_PREFIX) + e.entry_id).exists(),
    ]
    manual = (
        select(ENTRIES)
        .where(
            *pending,
            e.source == EntrySource.MANUAL.value,
            e.expires_at.is_not(None),
            e.expires_at <= now,
        )
        .order_by(e.expires_at, e.id)
        .limit(limit)
    )
    # A Stripe grant entry is `stripe_grant:<grant id>`: its row is found by primary key.
    expiry = case((g.id.is_not(None), g.expires_at), else_=e.expires_at)
    stripe = (
        select(ENTRIES)
        .outerjoin(CREDIT_GRANTS, g.id == func.substr(e.entry_id, len(STRIPE_GRANT_PREFIX) + 1))
        .where(*pending, e.source == EntrySource.STRIPE_GRANT.value, expiry <= now)
        .order_by(expiry, e.id)
        .limit(limit)
    )
    found = list(session.execute(manual).all())
    return found + list(session.execute(stripe).all())[: limit - len(found)]


def expire_due_grants(session: Session, now: datetime, limit: int = 500) -> int:
    """One pass of the expiry step: expire up to `limit` due grants; how many were expired.

    Every due grant gets its `expired:` entry (0 credits when nothing is left), so a pass
    never picks the same grant twice.
    """
    grants = due_grants(session, now, limit)
    taken = 0
    for grant in grants:
        taken += expire_grant(session, grant, now)
    if grants:
        log.info("credits.grants_expired", grants=len(grants), credits=taken)
    return len(grants)


def apply_stripe_grant(
    session: Session,
    *,
    grant_id: str,
    customer_id: str | None,
    credits: int,
    voided: bool,
    expires_at: datetime | None,
    stamp: str,
    now: datetime,
) -> None:
    """Follow a Stripe credit grant (as the mirror now holds it, written by the event of
    `stamp`) on the ledger: granted once, adjusted to a newer `metadata.credits`, voided.

    Only the newest state of a grant is written (the family refuses older events), so an
    older event never undoes a newer one; the adjustment's id carries the stamp of the
    state it follows, and its amount is what the ledger still lacks, so a replay adds
    nothing. Nothing happens until its customer is linked to an account; the link then
    calls `grant_for_customer_grants`.
    """
    account_ref = account_ref_of(session, customer_id)
    if account_ref is None:
        return
    entry_id = STRIPE_GRANT_PREFIX + grant_id
    new = ledger.append(
        session,
        ledger.NewEntry(
            entry_id=entry_id,
            account_ref=account_ref,
            kind=EntryKind.GRANT,
            credits=credits,
            source=EntrySource.STRIPE_GRANT,
            reason=f"Stripe credit grant {grant_id}",
            expires_at=expires_at,
        ),
        now,
    )
    grant = _entry(session, entry_id)
    if not voided:
        if not new:
            _follow_credits(session, grant, credits, stamp, now)
        return
    balance = ledger.lock_or_create_balance(session, account_ref, now)
    amount = _remaining(session, grant, balance.balance)
    ledger.append(
        session,
        ledger.NewEntry(
            entry_id=entry_id + VOID_SUFFIX,
            account_ref=account_ref,
            kind=EntryKind.ADJUST,
            credits=-amount,
            source=EntrySource.STRIPE_GRANT,
            reason=f"Stripe credit grant {grant_id} voided",
        ),
        now,
    )


def _follow_credits(session: Session, grant: Any, target: int, stamp: str, now: datetime) -> None:
    """Adjust a Stripe grant's entry to its newest `metadata.credits` (`target`)."""
    given = credited(session, grant)
    if given == target:
        return
    balance = ledger.lock_or_create_balance(session, grant.account_ref, now)
    left = _remaining(session, grant, balance.balance)
    change = rules.credits_change(target, given, left)
    if change == 0:
        return
    grant_id = grant.entry_id[len(STRIPE_GRANT_PREFIX) :]
    ledger.append(
        session,
        ledger.NewEntry(
            entry_id=credits_prefix(grant.entry_id) + stamp,
            account_ref=grant.account_ref,
            kind=EntryKind.ADJUST,
            credits=change,
            source=EntrySource.STRIPE_GRANT,
            reason=f"Stripe credit grant {grant_id}: metadata.credits {given} -> {target}",
        ),
        now,
    )


def grant_for_customer_grants(session: Session, customer_id: str | None, now: datetime) -> None:
    """After an account is linked to `customer_id`: its mirrored Stripe grants' credits.

    A grant's events may come before the event linking its customer to an account; what
    they could not grant then is granted (or granted and taken back, when voided) now.
    """
    if customer_id is None:
        return
    # Imported here: the credit grants family imports this module for its writes.
    from domain.mirror.families.credit_grants import CREDIT_GRANTS

    c = CREDIT_GRANTS.c
    stmt = select(
        c.id, c.credits, c.voided_at, c.expires_at, c.last_event_created, c.last_event_id
    ).where(c.stripe_customer_id == customer_id, c.credits.is_not(None))
    for row in session.execute(stmt).all():
        apply_stripe_grant(
            session,
            grant_id=row.id,
            customer_id=customer_id,
            credits=row.credits,
            voided=row.voided_at is not None,
            expires_at=row.expires_at,
            stamp=grant_stamp(row.last_event_created, row.last_event_id),
            now=now,
        )


def grant_stamp(event_created: int | None, event_id: str | None) -> str:
    """The part of an adjustment's id naming the state it follows: `<created>:<event id>`."""
    return f"{event_created or 0}:{event_id or ''}"
