"""Billing accounts and their link to a Stripe customer; runs inside the caller's transaction.

An account is the product's side (`account_ref`), a customer is Stripe's; either can be seen
first, so rows are created, linked and merged as events arrive in any order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from domain.event_log import dialect_insert
from domain.mirror.ordering import stamp_of
from domain.mirror.tables import BillingAccount

Row = dict[str, Any]
ACCOUNTS: Table = BillingAccount.__table__  # type: ignore[assignment]


def find_account(session: Session, column: str, value: str | None) -> Row | None:
    """Lock and return the account row whose `column` equals `value`."""
    if value is None:
        return None
    row = session.execute(_FIND_ACCOUNT[column], {"value": value}).mappings().first()
    return dict(row) if row else None


_FIND_ACCOUNT = {
    column: select(ACCOUNTS).where(ACCOUNTS.c[column] == bindparam("value")).with_for_update()
    for column in ("account_ref", "stripe_customer_id")
}


def _create_account(
    session: Session, account_ref: str | None, customer_id: str | None, now: datetime
) -> None:
    # DO NOTHING without a target: a concurrent creator of either unique key just wins.
    session.execute(
        dialect_insert(session, ACCOUNTS)
        .values(
            account_ref=account_ref,
            stripe_customer_id=customer_id,
            deleted=False,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()
    )


def _details(row: Row) -> Row:
    skip = {"id", "account_ref", "stripe_customer_id", "created_at", "updated_at"}
    return {k: v for k, v in row.items() if k not in skip}


def link_account(
    session: Session, *, account_ref: str | None, customer_id: str | None, now: datetime
) -> Row | None:
    """Find or create the account for (account_ref, customer), linking or merging the two.

    A customer can be seen before its account is known (customer.created without metadata)
    and an account before its customer; when both rows exist they are merged into the
    account's row, keeping the customer details of the newer customer event. A link that
    is already set is never re-pointed. Call with both keys locked.
    """
    if account_ref is None and customer_id is None:
        return None
    by_ref, by_customer = _find_accounts(session, account_ref, customer_id)
    if by_ref is None and by_customer is None:
        _create_account(session, account_ref, customer_id, now)
    elif by_customer is None:
        assert by_ref is not None
        if by_ref["stripe_customer_id"] is not None or customer_id is None:
            return by_ref  # already linked (never re-pointed), or nothing to link
        _update_account(session, by_ref["id"], {"stripe_customer_id": customer_id}, now)
    elif by_ref is None:
        if by_customer["account_ref"] is not None or account_ref is None:
            return by_customer
        _update_account(session, by_customer["id"], {"account_ref": account_ref}, now)
    elif (
        by_ref["id"] != by_customer["id"]
        and by_ref["stripe_customer_id"] is None
        and by_customer["account_ref"] is None
    ):
        _merge(session, into=by_ref, source=by_customer, now=now)
    else:
        return by_ref  # the same row, or two rows each linked elsewhere: nothing to do
    found = find_account(session, "account_ref", account_ref) if account_ref else None
    return found or find_account(session, "stripe_customer_id", customer_id)


def _find_accounts(
    session: Session, account_ref: str | None, customer_id: str | None
) -> tuple[Row | None, Row | None]:
    """Lock and return (the row with this account_ref, the row with this customer): one query."""
    rows = session.execute(_FIND_ACCOUNTS, {"ref": account_ref, "cus": customer_id}).mappings()
    by_ref = by_customer = None
    for row in rows:
        if account_ref is not None and row["account_ref"] == account_ref:
            by_ref = dict(row)
        if customer_id is not None and row["stripe_customer_id"] == customer_id:
            by_customer = dict(row)
    return by_ref, by_customer


_FIND_ACCOUNTS = (
    select(ACCOUNTS)
    .where(
        or_(
            ACCOUNTS.c.account_ref == bindparam("ref"),
            ACCOUNTS.c.stripe_customer_id == bindparam("cus"),
        )
    )
    .with_for_update()
)


def _merge(session: Session, *, into: Row, source: Row, now: datetime) -> None:
    values: Row = {"stripe_customer_id": source["stripe_customer_id"]}
    into_stamp = stamp_of(
        into["last_event_created"], into["last_event_rank"], into["last_event_id"]
    )
    src_stamp = stamp_of(
        source["last_event_created"], source["last_event_rank"], source["last_event_id"]
    )
    if src_stamp is not None and (into_stamp is None or src_stamp > into_stamp):
        values |= _details(source)
    # Delete first: the customer id is unique and moves to the surviving row.
    session.execute(delete(ACCOUNTS).where(ACCOUNTS.c.id == source["id"]))
    _update_account(session, into["id"], values, now)


def _update_account(session: Session, account_id: int, values: Row, now: datetime) -> None:
    # SET takes the columns named in the parameters (SQLAlchemy caches the SQL per name set).
    session.execute(_UPDATE_ACCOUNT, {**values, "updated_at": now, "_id": account_id})


_UPDATE_ACCOUNT = update(ACCOUNTS).where(ACCOUNTS.c.id == bindparam("_id"))


def update_account(session: Session, account_id: int, values: Row, now: datetime) -> None:
    """Write new values on an account row (already locked by the caller)."""
    _update_account(session, account_id, values, now)


def fill_blank_account_fields(session: Session, account: Row, values: Row, now: datetime) -> None:
    """Set fields that are still empty (checkout details never override customer events)."""
    blanks = {k: v for k, v in values.items() if v is not None and account.get(k) is None}
    if blanks:
        _update_account(session, account["id"], blanks, now)


def account_ref_of(session: Session, customer_id: str | None) -> str | None:
    """The product's account_ref linked to this Stripe customer, if any."""
    if customer_id is None:
        return None
    stmt = select(ACCOUNTS.c.account_ref).where(ACCOUNTS.c.stripe_customer_id == customer_id)
    ref: str | None = session.execute(stmt).scalars().first()
    return ref
