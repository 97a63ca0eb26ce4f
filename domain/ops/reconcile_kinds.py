"""The object kinds `billing reconcile` compares: one table row each (list path, family).

A kind says where Stripe lists and retrieves its objects, which family turns an object into
the row the mirror would hold (its own parse and transition, so the comparison cannot
drift from the handlers), where the stored row is, which event type applies Stripe's
current object (or its deletion) through the family's handler, and which stored rows are
still live (the candidates for "extra" when Stripe's listing leaves them out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from domain.mirror.accounts import ACCOUNTS
from domain.mirror.families import (
    credit_notes,
    customers,
    discounts,
    invoices,
    payment_methods,
    prices,
    products,
)
from domain.mirror.families import subscriptions as subs
from domain.mirror.families._family import Family, Incoming
from domain.mirror.families.payment_methods import PAYMENT_METHODS, Owner, customer_default
from domain.mirror.families.subscriptions.rules import SubscriptionChange
from domain.mirror.families.subscriptions.tables import ITEMS, SUBSCRIPTIONS
from domain.mirror.ordering import Stamp
from domain.mirror.statuses import InvoiceStatus, PaymentMethodStatus, SubscriptionStatus
from domain.mirror.unit import Deps
from domain.ops.drift import BOOKKEEPING, shown

Row = dict[str, Any]
Obj = dict[str, Any]
# Stamp columns are bookkeeping (never compared), so any stamp gives the same row.
_ANY_STAMP = Stamp(0, 0, "")


@dataclass(frozen=True)
class Kind:
    """One object kind reconcile pages, compares and repairs."""

    name: str
    family: Family[Any, Any, Any]
    list_path: str
    retrieve_path: str  # with {id}
    apply_type: Callable[[Obj], str]  # the event type Stripe's current object is applied as
    deleted_type: str | None  # the event type a deletion (or a 404) is applied as; None: never
    table: Table  # where the stored row is
    key: str = "id"  # its column holding the Stripe id
    live: Callable[[Table], ColumnElement[bool]] | None = None  # stored rows not yet gone
    list_params: Mapping[str, Any] = field(default_factory=dict)
    per_customer: bool = False  # listed per customer (`?customer=`), not by created window
    # What the family's transition needs besides the object (read only, no locks).
    facts: Callable[[Session, Any, Row | None], Any] = lambda session, view, stored: None
    # Child rows compared as one field: (table, parent column, field name).
    children: tuple[Table, str, str] | None = None
    # The stored columns in what the family's transition returns (most return the row).
    row_of: Callable[[Any], Row] = lambda result: dict(result)
    # Whether a retrieved object is gone for the mirror (deleted; a payment method detached),
    # and what its deletion looks like on the object (Stripe's own deleted shape).
    gone: Callable[[Obj], bool] = lambda obj: obj.get("deleted") is True
    deleted_fields: Mapping[str, Any] = field(default_factory=lambda: {"deleted": True})

    def stored(self, session: Session, object_id: str) -> Row | None:
        """The mirror's row for this object (None: the mirror does not have it)."""
        found = session.execute(
            select(self.table).where(self.table.c[self.key] == object_id)
        ).mappings()
        row = found.first()
        if row is None:
            return None
        stored = dict(row)
        if self.children is not None:
            table, parent, name = self.children
            rows = session.execute(select(table).where(table.c[parent] == object_id)).mappings()
            stored[name] = _child_rows([dict(r) for r in rows], parent)
        return stored

    def expected(self, session: Session, obj: Obj, deps: Deps, stored: Row | None) -> Row:
        """The row the family's transition gives for this object (the mirror's columns)."""
        event_type = self.apply_type(obj)
        view = self.family.parse(obj, None)
        facts = self.facts(session, view, stored)
        result = self.family.transition(view, Incoming(event_type, _ANY_STAMP, facts, deps))
        return {} if result is None else self.row_of(result)

    def gone_object(self, stored: Row, retrieved: Obj | None) -> Obj:
        """The object its deletion is applied with: the stored one, marked deleted."""
        raw: Obj = stored["raw"] if isinstance(stored.get("raw"), dict) else {}
        obj: Obj = {"id": stored[self.key], "object": self.family.object_type, **raw}
        obj.update(retrieved or {})
        return {**obj, **self.deleted_fields}

    def candidates(self, session: Session, since: int, customer: str | None = None) -> list[str]:
        """Stored live rows created or last written in the window (or of `customer`)."""
        t = self.table
        where: list[ColumnElement[bool]] = [t.c[self.key].is_not(None)]
        if self.live is not None:
            where.append(self.live(t))
        if customer is not None:
            where.append(t.c.stripe_customer_id == customer)
        else:
            recent = [t.c.last_event_created >= since]
            if "stripe_created" in t.c:
                recent.append(t.c.stripe_created >= _utc(since))
            where.append(or_(*recent))
        query = select(t.c[self.key]).where(and_(*where)).order_by(t.c[self.key])
        return [str(v) for v in session.execute(query).scalars()]


def _child_rows(rows: Iterable[Mapping[str, Any]], parent: str) -> list[Row]:
    """Child rows as one comparable (and reportable) value: by id, without bookkeeping."""
    skip = BOOKKEEPING | {parent}
    return sorted(
        ({k: shown(k, v) for k, v in row.items() if k not in skip} for row in rows),
        key=lambda r: str(r.get("id")),
    )


def _subscription_row(change: SubscriptionChange) -> Row:
    return {**change.row, "items": _child_rows(change.items, "subscription_id")}


def _account_values(change: customers.AccountChange) -> Row:
    return dict(change.values)


def _utc(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def _account_facts(session: Session, view: Any, stored: Row | None) -> Row:
    return stored or {"id": 0}  # a missing customer: any account id shows its row


def _owner_facts(session: Session, view: Any, stored: Row | None) -> Owner:
    owner = view.customer_id or (stored or {}).get("stripe_customer_id")
    return Owner(owner, customer_default(session, owner))


def _deleted_or(updated: str, deleted: str) -> Callable[[Obj], str]:
    return lambda obj: deleted if obj.get("deleted") is True else updated


def _subscription_type(obj: Obj) -> str:
    if obj.get("status") == SubscriptionStatus.CANCELED:
        return "customer.subscription.deleted"
    return "customer.subscription.updated"


def _payment_method_type(obj: Obj) -> str:
    return "payment_method.detached" if not obj.get("customer") else "payment_method.updated"


KINDS: tuple[Kind, ...] = (
    Kind(
        "customers",
        customers.FAMILY,
        "/v1/customers",
        "/v1/customers/{id}",
        _deleted_or("customer.updated", "customer.deleted"),
        "customer.deleted",
        ACCOUNTS,
        key="stripe_customer_id",
        live=lambda t: t.c.deleted.is_(False),
        facts=_account_facts,
        row_of=_account_values,
    ),
    Kind(
        "subscriptions",
        subs.FAMILY,
        "/v1/subscriptions",
        "/v1/subscriptions/{id}",
        _subscription_type,
        "customer.subscription.deleted",
        SUBSCRIPTIONS,
        live=lambda t: t.c.status != SubscriptionStatus.CANCELED,
        list_params={"status": "all"},  # canceled ones too
        children=(ITEMS, "subscription_id", "items"),
        deleted_fields={"status": SubscriptionStatus.CANCELED.value},
        row_of=_subscription_row,
    ),
    Kind(
        "invoices",
        invoices.FAMILY,
        "/v1/invoices",
        "/v1/invoices/{id}",
        _deleted_or("invoice.updated", "invoice.deleted"),
        "invoice.deleted",
        invoices.INVOICES,
        live=lambda t: t.c.status != InvoiceStatus.DELETED,
    ),
    Kind(
        "payment_methods",
        payment_methods.FAMILY,
        "/v1/payment_methods",
        "/v1/payment_methods/{id}",
        _payment_method_type,
        "payment_method.detached",
        PAYMENT_METHODS,
        live=lambda t: and_(t.c.status == PaymentMethodStatus.ATTACHED, t.c.source.is_(False)),
        per_customer=True,
        facts=_owner_facts,
        gone=lambda obj: not obj.get("customer"),
        deleted_fields={"customer": None},
    ),
    Kind(
        "products",
        products.FAMILY,
        "/v1/products",
        "/v1/products/{id}",
        _deleted_or("product.updated", "product.deleted"),
        "product.deleted",
        products.PRODUCTS,
        live=lambda t: t.c.deleted.is_(False),
    ),
    Kind(
        "prices",
        prices.FAMILY,
        "/v1/prices",
        "/v1/prices/{id}",
        _deleted_or("price.updated", "price.deleted"),
        "price.deleted",
        prices.PRICES,
        live=lambda t: t.c.deleted.is_(False),
    ),
    Kind(
        "coupons",
        discounts.COUPONS,
        "/v1/coupons",
        "/v1/coupons/{id}",
        _deleted_or("coupon.updated", "coupon.deleted"),
        "coupon.deleted",
        discounts.coupons.COUPONS,
        live=lambda t: t.c.deleted.is_(False),
    ),
    Kind(
        "credit_notes",
        credit_notes.FAMILY,
        "/v1/credit_notes",
        "/v1/credit_notes/{id}",
        lambda obj: "credit_note.voided" if obj.get("status") == "void" else "credit_note.updated",
        None,  # Stripe voids credit notes, never deletes them
        credit_notes.CREDIT_NOTES,
    ),
)
BY_NAME: dict[str, Kind] = {k.name: k for k in KINDS}
DEFAULT_KINDS = ("customers", "subscriptions", "invoices", "payment_methods")


def parse_kinds(values: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Kinds in table order, from names (comma-separated allowed); ValueError for unknown."""
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    unknown = sorted(set(names) - set(BY_NAME))
    if unknown:
        raise ValueError(f"unknown object kind {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    wanted = set(names) or set(DEFAULT_KINDS)
    return tuple(k.name for k in KINDS if k.name in wanted)
