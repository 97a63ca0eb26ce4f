"""SQL for the mirror tables; every function runs inside the caller's transaction."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from domain.mirror.batch import Targets, batch_of, start_batch
from domain.mirror.ordering import Stamp, stamp_of
from domain.mirror.tables import BillingAccount, PaymentMethod, SubscriptionItem

Row = dict[str, Any]
ACCOUNTS: Table = BillingAccount.__table__  # type: ignore[assignment]
ITEMS: Table = SubscriptionItem.__table__  # type: ignore[assignment]
PAYMENT_METHODS: Table = PaymentMethod.__table__  # type: ignore[assignment]


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


class LockBusy(Exception):
    """Another transaction holds one of the keys, and this batch transaction must not wait."""


def lock_keys(session: Session, keys: Iterable[str | None]) -> None:
    """Serialise work on these objects across workers until the transaction ends.

    Keys are taken in sorted order so two handlers needing overlapping keys cannot deadlock.
    In a batch (`prepare_batch`) a busy key raises LockBusy instead: waiting while holding
    the keys of the batch's other events could deadlock with another batch.
    SQLite needs nothing: its transactions begin IMMEDIATE and so already run one at a time.
    """
    if not is_postgres(session):
        return
    ordered = sorted({k for k in keys if k})
    batch = batch_of(session)
    if not ordered or (batch is not None and batch.held.issuperset(ordered)):
        return
    # One round trip; the sorted subquery fixes the order the locks are taken in.
    if batch is None:
        session.execute(_LOCK_KEYS, {"keys": ordered})
    elif not session.execute(_TRY_LOCK_KEYS, {"keys": ordered}).scalar_one():
        raise LockBusy(", ".join(ordered))
    if batch is not None:
        batch.held.update(ordered)


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
    params = {"subs": [subscription_id], "keep": keep}
    session.execute(_DELETE_UNKEPT_ITEMS if keep else _DELETE_ALL_ITEMS, params)
    for row in rows:
        # An item that moved between subscriptions is re-parented by the newer write.
        upsert_stamped(session, ITEMS, row, now)


# The statements below run for every event: built once, since building a statement costs
# more than running it (the SQL of a built statement is then cached by SQLAlchemy).
_DELETE_ALL_ITEMS = delete(ITEMS).where(
    ITEMS.c.subscription_id.in_(bindparam("subs", expanding=True))
)
_DELETE_UNKEPT_ITEMS = _DELETE_ALL_ITEMS.where(ITEMS.c.id.not_in(bindparam("keep", expanding=True)))


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


def customer_of_payment_method(session: Session, payment_method_id: str) -> str | None:
    """The customer a stored payment method row belongs to, if the row exists."""
    flush_writes(session)
    return session.execute(_PM_CUSTOMER, {"pm": payment_method_id}).scalar_one_or_none()


_PM_CUSTOMER = select(PAYMENT_METHODS.c.stripe_customer_id).where(
    PAYMENT_METHODS.c.id == bindparam("pm")
)
