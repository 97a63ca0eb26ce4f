"""Read queries for the product API: one account, its subscriptions, invoices, payment methods.

Lists are newest first with keyset (cursor) pagination on (created, id), so a page is stable
while new rows arrive and deep pages cost the same as the first.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

import orjson
from sqlalchemy import ColumnElement, Select, func, literal, select, tuple_
from sqlalchemy.orm import Session

from domain.mirror.families.invoices import Invoice
from domain.mirror.families.payment_methods import PaymentMethod
from domain.mirror.families.subscriptions import Subscription, SubscriptionItem
from domain.mirror.statuses import InvoiceStatus, PaymentMethodStatus, SubscriptionStatus
from domain.mirror.tables import BillingAccount

# Rows Stripe gave no `created` sort last (Stripe always sends it; the column is nullable).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Row = TypeVar("Row", Subscription, Invoice)


class CursorError(ValueError):
    """A pagination cursor that this service did not hand out."""


@dataclass(frozen=True, slots=True)
class Page(Generic[Row]):
    """One page of rows, newest first; `next_cursor` is None on the last page."""

    items: list[Row]
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
    """The account with this product reference, or None."""
    return session.execute(
        select(BillingAccount).where(BillingAccount.account_ref == account_ref)
    ).scalar_one_or_none()


def _created_key(model: type[Row]) -> ColumnElement[datetime]:
    return func.coalesce(model.stripe_created, literal(EPOCH, model.stripe_created.type))


def _page(
    session: Session,
    model: type[Row],
    customer_id: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Row]:
    if customer_id is None:  # no Stripe customer linked yet: nothing can belong to it
        return Page([], None)
    key = _created_key(model)
    stmt: Select[Row] = select(model).where(model.stripe_customer_id == customer_id)
    if status is not None:
        stmt = stmt.where(model.status == status)
    if cursor is not None:
        after_created, after_id = decode_cursor(cursor)
        stmt = stmt.where(
            tuple_(key, model.id)
            < tuple_(literal(after_created, model.stripe_created.type), literal(after_id))
        )
    rows = list(
        session.execute(stmt.order_by(key.desc(), model.id.desc()).limit(limit + 1)).scalars()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more else None
    return Page(rows, encode_cursor(last.stripe_created, last.id) if last else None)


def list_subscriptions(
    session: Session,
    customer_id: str | None,
    *,
    status: SubscriptionStatus | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[Subscription]:
    """A customer's subscriptions, newest first."""
    return _page(session, Subscription, customer_id, status, limit, cursor)


def list_invoices(
    session: Session,
    customer_id: str | None,
    *,
    status: InvoiceStatus | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> Page[Invoice]:
    """A customer's invoices, newest first."""
    return _page(session, Invoice, customer_id, status, limit, cursor)


def items_of(
    session: Session, subscription_ids: Sequence[str]
) -> dict[str, list[SubscriptionItem]]:
    """The items of several subscriptions, in one query."""
    found: dict[str, list[SubscriptionItem]] = {sid: [] for sid in subscription_ids}
    if not subscription_ids:
        return found
    rows = session.execute(
        select(SubscriptionItem)
        .where(SubscriptionItem.subscription_id.in_(list(subscription_ids)))
        .order_by(SubscriptionItem.id)
    ).scalars()
    for item in rows:
        found[item.subscription_id].append(item)
    return found


def list_payment_methods(
    session: Session,
    customer_id: str | None,
    *,
    status: PaymentMethodStatus | None = PaymentMethodStatus.ATTACHED,
    limit: int = 100,
) -> list[PaymentMethod]:
    """A customer's payment methods (attached ones by default), the default one first."""
    if customer_id is None:
        return []
    stmt = select(PaymentMethod).where(PaymentMethod.stripe_customer_id == customer_id)
    if status is not None:
        stmt = stmt.where(PaymentMethod.status == status)
    stmt = stmt.order_by(PaymentMethod.is_default.desc(), PaymentMethod.id).limit(limit)
    return list(session.execute(stmt).scalars())
