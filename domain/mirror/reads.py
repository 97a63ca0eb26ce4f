"""Read queries for the product API: one account, and any family's rows of its customer.

Paginated lists are newest first with keyset (cursor) pagination on (created, id), so a
page is stable while new rows arrive and deep pages cost the same as the first. What a
family lists, and how, is its `Listing` (domain.mirror.families._read).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Row, Select, Table, func, literal, select, tuple_
from sqlalchemy.orm import Session, defer

from domain.mirror.families._read import MAX_ROWS, Child, Listing
from domain.mirror.tables import BillingAccount

# Rows Stripe gave no `created` sort last (Stripe always sends it; the column is nullable).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CursorError(ValueError):
    """A pagination cursor that this service did not hand out."""


@dataclass(frozen=True, slots=True)
class Page:
    """One page of rows, newest first; `next_cursor` is None on the last page."""

    items: list[Row[Any]]
    next_cursor: str | None


def encode_cursor(created: datetime | None, row_id: str) -> str:
    """An opaque cursor pointing just after the row (created, id)."""
    raw = orjson.dumps([int((created or EPOCH).timestamp() * 1_000_000), row_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created, id) a cursor points after; CursorError when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        micros, row_id = orjson.loads(raw)
        if not isinstance(micros, int) or not isinstance(row_id, str):
            raise TypeError
        return datetime.fromtimestamp(micros / 1_000_000, UTC), row_id
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError, OverflowError):
        raise CursorError("not a cursor returned by this API") from None


def find_account(session: Session, account_ref: str) -> BillingAccount | None:
    """The account with this product reference, or None (its raw Stripe object not loaded:
    the read API never shows it)."""
    return session.execute(
        select(BillingAccount)
        .options(defer(BillingAccount.raw))
        .where(BillingAccount.account_ref == account_ref)
    ).scalar_one_or_none()


def _created_key(table: Table) -> ColumnElement[datetime]:
    created = table.c.stripe_created
    return func.coalesce(created, literal(EPOCH, created.type))


def listed_rows(listing: Listing, customer_id: str, status: StrEnum | None) -> Select[Any]:
    """The customer's rows of the listing (in `status`, if given), never-listed ones left out."""
    table = listing.shape.table
    stmt = select(table).where(listing.rows_of(customer_id))
    if status is not None:
        stmt = stmt.where(table.c.status == status.value)
    if listing.never_listed:
        stmt = stmt.where(table.c.status.not_in([s.value for s in listing.never_listed]))
    return stmt


def list_page(
    session: Session,
    listing: Listing,
    customer_id: str | None,
    *,
    status: StrEnum | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page:
    """A customer's rows of the listing's family, newest first, one page."""
    if customer_id is None:  # no Stripe customer linked yet: nothing can belong to it
        return Page([], None)
    table = listing.shape.table
    key = _created_key(table)
    stmt = listed_rows(listing, customer_id, status)
    if cursor is not None:
        after_created, after_id = decode_cursor(cursor)
        stmt = stmt.where(
            tuple_(key, table.c.id)
            < tuple_(literal(after_created, table.c.stripe_created.type), literal(after_id))
        )
    rows = list(session.execute(stmt.order_by(key.desc(), table.c.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    return Page(rows, encode_cursor(last.stripe_created, last.id) if last else None)


def list_all(
    session: Session, listing: Listing, customer_id: str | None, *, status: StrEnum | None
) -> list[Row[Any]]:
    """A customer's rows of the listing's family (at most MAX_ROWS), in the listing's order."""
    if customer_id is None:
        return []
    table = listing.shape.table
    stmt = listed_rows(listing, customer_id, status)
    order = [
        table.c[name[1:]].desc() if name.startswith("-") else table.c[name]
        for name in listing.order
    ]
    return list(session.execute(stmt.order_by(*order).limit(MAX_ROWS)))


def children_of(
    session: Session, child: Child, parent_ids: Sequence[str]
) -> dict[str, list[Row[Any]]]:
    """The child rows of several parents (a subscription's items), in one query."""
    found: dict[str, list[Row[Any]]] = {pid: [] for pid in parent_ids}
    if not parent_ids:
        return found
    table = child.shape.table
    parent = table.c[child.parent]
    rows = session.execute(select(table).where(parent.in_(list(parent_ids))).order_by(table.c.id))
    for row in rows:
        found[getattr(row, child.parent)].append(row)
    return found
