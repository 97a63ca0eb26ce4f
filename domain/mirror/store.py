"""SQL for the mirror tables; every function runs inside the caller's transaction."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, or_, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from domain.event_log import dialect_insert
from domain.mirror.batch import Targets, batch_of, start_batch
from domain.mirror.ordering import Stamp, stamp_of
from domain.mirror.tables import BillingAccount, PaymentMethod, SubscriptionItem

Row = dict[str, Any]
ACCOUNTS: Table = BillingAccount.__table__  # type: ignore[assignment]
ITEMS: Table = SubscriptionItem.__table__  # type: ignore[assignment]
PAYMENT_METHODS: Table = PaymentMethod.__table__  # type: ignore[assignment]


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# Set in `session.info` by a caller that applies several events in one transaction: a busy
# key then raises LockBusy instead of waiting, since waiting while holding the keys of the
# earlier events could deadlock with another such transaction.
NO_WAIT = "mirror.locks.no_wait"


class LockBusy(Exception):
    """Another transaction holds one of the keys and the caller asked not to wait."""


def lock_keys(session: Session, keys: Iterable[str | None]) -> None:
    """Serialise work on these objects across workers until the transaction ends.

    Keys are taken in sorted order so two handlers needing overlapping keys cannot deadlock.
    SQLite needs nothing: its transactions begin IMMEDIATE and so already run one at a time.
    """
    if not is_postgres(session):
        return
    ordered = sorted({k for k in keys if k})
    batch = batch_of(session)
    held = batch.held if batch else None
    if not ordered or (held is not None and held.issuperset(ordered)):
        return
    # One round trip; the sorted subquery fixes the order the locks are taken in.
    if not session.info.get(NO_WAIT):
        session.execute(_LOCK_KEYS, {"keys": ordered})
    elif not session.execute(_TRY_LOCK_KEYS, {"keys": ordered}).scalar_one():
        raise LockBusy(", ".join(ordered))
    if held is not None:
        held.update(ordered)


_SORTED_KEYS = (
    "FROM (SELECT k FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS t(k, n) ORDER BY n) AS s"
)
_LOCK_KEYS = text(f"SELECT count(pg_advisory_xact_lock(hashtext(k))) {_SORTED_KEYS}")
_TRY_LOCK_KEYS = text(f"SELECT bool_and(pg_try_advisory_xact_lock(hashtext(k))) {_SORTED_KEYS}")


def key(kind: str, object_id: str | None) -> str | None:
    """The advisory lock key of one object (None when the id is unknown)."""
    return f"mirror:{kind}:{object_id}" if object_id else None


def current_stamp(session: Session, table: Table, object_id: str) -> Stamp | None:
    """Lock the row (if any) and return the stamp of the event that last wrote it."""
    batch = batch_of(session)
    if batch is not None:
        if (table.name, object_id) in batch.stamps:
            return batch.stamps[(table.name, object_id)]
        flush_writes(session)  # not prepared: the database must see the batch's writes
    row = session.execute(_stamp_query(table), {"object_id": object_id}).first()
    return stamp_of(row[0], row[1], row[2]) if row else None


@functools.cache
def _stamp_query(table: Table) -> Any:
    # Built once per table (see _upsert_statement).
    c = table.c
    return (
        select(c.last_event_created, c.last_event_rank, c.last_event_id)
        .where(c.id == bindparam("object_id"))
        .with_for_update()
    )


def upsert_stamped(session: Session, table: Table, values: Row, now: datetime) -> None:
    """INSERT, or UPDATE when the stored stamp is not newer (guards against racing writers).

    In a batch the write waits for `flush_writes`; the batch's stamps are updated at once.
    """
    values = {**values, "updated_at": now}
    dialect = session.get_bind().dialect.name
    batch = batch_of(session)
    if batch is not None:
        batch.defer_upsert(table, dialect, values)
        return
    session.execute(_upsert_statement(table, dialect, tuple(sorted(values))), values)


def prepare_batch(session: Session, targets: Iterable[Targets]) -> None:
    """Start applying several events in this transaction: take their locks, read their stamps.

    One lock statement for the whole batch (sorted keys, like `lock_keys`) and one stamp
    query per table, instead of one of each per event. The handlers then find their keys
    held and their stamps in the batch state, kept current as they write; their stamped
    writes wait for `flush_writes`. Anything not prepared here still goes to the database.
    """
    targets = list(targets)
    batch = start_batch(session)
    lock_keys(session, [k for t in targets for k in t.keys])
    wanted: dict[Table, set[str]] = {}
    for t in targets:
        for table, object_id in t.rows:
            if object_id:
                wanted.setdefault(table, set()).add(object_id)
    for table, ids in wanted.items():
        found = {
            row[0]: stamp_of(row[1], row[2], row[3])
            for row in session.execute(_stamps_query(table), {"ids": sorted(ids)})
        }
        batch.stamps.update(((table.name, i), found.get(i)) for i in ids)


def flush_writes(session: Session) -> None:
    """Send the batch's deferred writes: one executemany per table and column set.

    Upserts are guarded by their stamps, so sending them together gives the same rows as
    one at a time. Item replacements go last (items reference their subscription): first
    the items of the replaced subscriptions that no replacement keeps are deleted, then the
    kept items are upserted (an item that moved is re-parented, as one at a time).
    """
    batch = batch_of(session)
    if batch is None:
        return
    upserts, batch.upserts = batch.upserts, {}
    for (table, dialect, columns), rows in upserts.items():
        session.execute(_upsert_statement(table, dialect, columns), rows)
    items, batch.items = batch.items, {}
    if not items:
        return
    kept = [row for rows in items.values() for row in rows]
    params = {"subs": sorted(items), "keep": sorted({r["id"] for r in kept})}
    session.execute(_DELETE_UNKEPT_ITEMS if kept else _DELETE_ALL_ITEMS, params)
    dialect = session.get_bind().dialect.name
    by_columns: dict[tuple[str, ...], list[Row]] = {}
    for row in kept:
        by_columns.setdefault(tuple(sorted(row)), []).append(row)
    for columns, rows in by_columns.items():
        session.execute(_upsert_statement(ITEMS, dialect, columns), rows)


@functools.cache
def _stamps_query(table: Table) -> Any:
    c = table.c
    return (
        select(c.id, c.last_event_created, c.last_event_rank, c.last_event_id)
        .where(c.id.in_(bindparam("ids", expanding=True)))
        .order_by(c.id)  # rows locked in a fixed order
        .with_for_update()
    )


@functools.cache
def _upsert_statement(table: Table, dialect: str, columns: tuple[str, ...]) -> Any:
    # Built once per table and column set: constructing an ON CONFLICT statement costs more
    # than running it, and the cached statement's SQL is also cached by SQLAlchemy.
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    c = table.c
    stored = tuple_(c.last_event_created, c.last_event_rank, c.last_event_id)
    incoming = tuple_(
        ins.excluded.last_event_created, ins.excluded.last_event_rank, ins.excluded.last_event_id
    )
    return ins.on_conflict_do_update(
        index_elements=["id"],
        set_={k: ins.excluded[k] for k in columns if k != "id"},
        where=stored <= incoming,
    )


def replace_items(
    session: Session, subscription_id: str, items: Iterable[Row], now: datetime
) -> None:
    """Make the subscription's item rows exactly `items` (removed items are deleted)."""
    rows = list(items)
    batch = batch_of(session)
    if batch is not None:
        batch.items[subscription_id] = [{**r, "updated_at": now} for r in rows]
        return
    keep = [r["id"] for r in rows]
    if keep:
        session.execute(_DELETE_OTHER_ITEMS, {"sub": subscription_id, "keep": keep})
    else:
        session.execute(_DELETE_ITEMS, {"sub": subscription_id})
    for row in rows:
        # An item that moved between subscriptions is re-parented by the newer write.
        upsert_stamped(session, ITEMS, row, now)


# The statements below run for every event: built once, since building a statement costs
# more than running it (the SQL of a built statement is then cached by SQLAlchemy).
_DELETE_ITEMS = delete(ITEMS).where(ITEMS.c.subscription_id == bindparam("sub"))
_DELETE_OTHER_ITEMS = _DELETE_ITEMS.where(ITEMS.c.id.not_in(bindparam("keep", expanding=True)))
_DELETE_ALL_ITEMS = delete(ITEMS).where(
    ITEMS.c.subscription_id.in_(bindparam("subs", expanding=True))
)
_DELETE_UNKEPT_ITEMS = _DELETE_ALL_ITEMS.where(ITEMS.c.id.not_in(bindparam("keep", expanding=True)))


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


def sync_default_payment_method(
    session: Session, customer_id: str, default_id: str | None, now: datetime
) -> None:
    """Flag the customer's default payment method (and unflag the others)."""
    flush_writes(session)  # the batch's payment method rows must be there to be flagged
    params = {"cus": customer_id, "default": default_id, "now": now}
    session.execute(_SET_DEFAULT if default_id else _CLEAR_DEFAULT, params)


def _default_statement(is_default: Any) -> Any:
    c = PAYMENT_METHODS.c
    return (
        update(PAYMENT_METHODS)
        .where(c.stripe_customer_id == bindparam("cus"))
        .values(is_default=is_default, updated_at=bindparam("now"))
    )


_SET_DEFAULT = _default_statement(PAYMENT_METHODS.c.id == bindparam("default"))
_CLEAR_DEFAULT = _default_statement(False)


def default_payment_method_of(session: Session, customer_id: str | None) -> str | None:
    """The customer's default payment method id as last written by a customer event."""
    if customer_id is None:
        return None
    return session.execute(_DEFAULT_PM, {"cus": customer_id}).scalar_one_or_none()


_DEFAULT_PM = select(ACCOUNTS.c.default_payment_method_id).where(
    ACCOUNTS.c.stripe_customer_id == bindparam("cus")
)


def customer_of_payment_method(session: Session, payment_method_id: str) -> str | None:
    """The customer a stored payment method row belongs to, if the row exists."""
    flush_writes(session)
    return session.execute(_PM_CUSTOMER, {"pm": payment_method_id}).scalar_one_or_none()


_PM_CUSTOMER = select(PAYMENT_METHODS.c.stripe_customer_id).where(
    PAYMENT_METHODS.c.id == bindparam("pm")
)
