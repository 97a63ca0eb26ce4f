"""SQL every mirror family shares: locks, stamps, stamped upserts, child-row replacement.

Every function runs inside the caller's transaction. Given a unit with a batch, the stamps
come from the batch and the writes wait for `flush_writes`; without one, they go straight
to the database.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from domain.mirror.batch import Batch, Targets
from domain.mirror.ordering import Stamp, stamp_of
from domain.mirror.unit import Unit

Row = dict[str, Any]


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


class LockBusy(Exception):
    """Another transaction holds one of the keys, and this batch transaction must not wait."""


def lock_keys(session: Session, keys: Iterable[str | None], batch: Batch | None = None) -> None:
    """Serialise work on these objects across workers until the transaction ends.

    Keys are taken in sorted order so two handlers needing overlapping keys cannot deadlock.
    In a batch (`prepare_batch`) a busy key raises LockBusy instead: waiting while holding
    the keys of the batch's other events could deadlock with another batch.
    SQLite needs nothing: its transactions begin IMMEDIATE and so already run one at a time.
    """
    if not is_postgres(session):
        return
    ordered = sorted({k for k in keys if k})
    if not ordered or (batch is not None and batch.held.issuperset(ordered)):
        return
    # One round trip; the sorted subquery fixes the order the locks are taken in.
    if batch is None:
        session.execute(_LOCK_KEYS, {"keys": ordered})
        return
    if not session.execute(_TRY_LOCK_KEYS, {"keys": ordered}).scalar_one():
        raise LockBusy(", ".join(ordered))
    batch.held.update(ordered)


_SORTED_KEYS = (
    "FROM (SELECT k FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS t(k, n) ORDER BY n) AS s"
)
_LOCK_KEYS = text(f"SELECT count(pg_advisory_xact_lock(hashtext(k))) {_SORTED_KEYS}")
_TRY_LOCK_KEYS = text(f"SELECT bool_and(pg_try_advisory_xact_lock(hashtext(k))) {_SORTED_KEYS}")


def key(kind: str, object_id: str | None) -> str | None:
    """The advisory lock key of one object (None when the id is unknown)."""
    return f"mirror:{kind}:{object_id}" if object_id else None


def current_stamp(unit: Unit, table: Table, object_id: str) -> Stamp | None:
    """Lock the row (if any) and return the stamp of the event that last wrote it."""
    batch = unit.batch
    if batch is not None:
        if (table.name, object_id) in batch.stamps:
            return batch.stamps[(table.name, object_id)]
        flush_writes(unit)  # not prepared: the database must see the batch's writes
    row = unit.session.execute(_stamp_query(table), {"object_id": object_id}).first()
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


def upsert_stamped(unit: Unit, table: Table, values: Row, now: datetime) -> None:
    """INSERT, or UPDATE when the stored stamp is not newer (guards against racing writers).

    In a batch the write waits for `flush_writes`; the batch's stamps are updated at once.
    """
    values = {**values, "updated_at": now}
    dialect = unit.session.get_bind().dialect.name
    if unit.batch is not None:
        unit.batch.defer_upsert(table, dialect, values)
        return
    unit.session.execute(_upsert_statement(table, dialect, tuple(sorted(values))), values)


def replace_children(
    unit: Unit, table: Table, parent: str, parent_id: str, rows: Iterable[Row], now: datetime
) -> None:
    """Make the stamped rows of `table` whose `parent` column is `parent_id` exactly `rows`.

    Rows no longer listed are deleted; a row that moved from another parent is re-parented
    by the newer write (its upsert is guarded by its stamp like any other).
    """
    rows = [{**r, "updated_at": now} for r in rows]
    if unit.batch is not None:
        unit.batch.defer_children(table, parent, parent_id, rows)
        return
    _write_children(unit.session, table, parent, {parent_id: rows})


def _write_children(
    session: Session, table: Table, parent: str, by_parent: dict[str, list[Row]]
) -> None:
    kept = [row for rows in by_parent.values() for row in rows]
    params = {"parents": sorted(by_parent), "keep": sorted({r["id"] for r in kept})}
    session.execute(_delete_children(table, parent, bool(kept)), params)
    dialect = session.get_bind().dialect.name
    by_columns: dict[tuple[str, ...], list[Row]] = {}
    for row in kept:
        by_columns.setdefault(tuple(sorted(row)), []).append(row)
    for columns, same in by_columns.items():
        session.execute(_upsert_statement(table, dialect, columns), same)


@functools.cache
def _delete_children(table: Table, parent: str, keep: bool) -> Any:
    stmt = delete(table).where(table.c[parent].in_(bindparam("parents", expanding=True)))
    return stmt.where(table.c.id.not_in(bindparam("keep", expanding=True))) if keep else stmt


def prepare_batch(unit: Unit, targets: Iterable[Targets]) -> None:
    """Start applying several events in this transaction: take their locks, read their stamps.

    One lock statement for the whole batch (sorted keys, like `lock_keys`) and one stamp
    query per table, instead of one of each per event. The handlers then find their keys
    held and their stamps in the batch state, kept current as they write; their stamped
    writes wait for `flush_writes`. Anything not prepared here still goes to the database.
    """
    batch = unit.batch
    if batch is None:
        raise ValueError("prepare_batch needs a unit with a batch")
    targets = list(targets)
    lock_keys(unit.session, [k for t in targets for k in t.keys], batch)
    wanted: dict[Table, set[str]] = {}
    for t in targets:
        for table, object_id in t.rows:
            if object_id:
                wanted.setdefault(table, set()).add(object_id)
    for table, ids in wanted.items():
        found = {
            row[0]: stamp_of(row[1], row[2], row[3])
            for row in unit.session.execute(_stamps_query(table), {"ids": sorted(ids)})
        }
        batch.stamps.update(((table.name, i), found.get(i)) for i in ids)


def flush_writes(unit: Unit) -> None:
    """Send the batch's deferred writes: one executemany per table and column set.

    Upserts are guarded by their stamps, so sending them together gives the same rows as
    one at a time. Child replacements go last (children reference their parent): first the
    children of the replaced parents that no replacement keeps are deleted, then the kept
    ones are upserted (a child that moved is re-parented, as one at a time).
    """
    batch = unit.batch
    if batch is None:
        return
    session = unit.session
    upserts, batch.upserts = batch.upserts, {}
    for (table, dialect, columns), rows in upserts.items():
        session.execute(_upsert_statement(table, dialect, columns), rows)
    children, batch.children = batch.children, {}
    for (table, parent), by_parent in children.items():
        _write_children(session, table, parent, by_parent)


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
