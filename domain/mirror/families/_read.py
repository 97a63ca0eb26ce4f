"""How the read API shows a family's rows: derived from the family's table, not rewritten.

The response model (pydantic, so also its OpenAPI schema) and the shaping of a row into
it both come from the table's columns: every column is shown under its own name and type
(a nullable column as `X | None`), except the internal ones (`INTERNAL`) and those the
family hides. `stripe_created` is shown as `created`; an amount column and its currency
column as one `Money` object under the amount's name; child rows (a subscription's items)
as a list of their own shape; and `Related` fields, whose values other rows hold (often
another family's: a payment's amount refunded, a subscription's pending change), loaded for
every row of a response at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from typing import Any

from pydantic import BaseModel, Field, create_model
from sqlalchemy import ColumnElement, Select, Table
from sqlalchemy.orm import Session

from domain.mirror.tables import STAMP_COLUMNS

# Never shown: the ordering stamp, our write time, the raw Stripe object, and the customer
# id (the account in the path already names it).
INTERNAL = frozenset({*STAMP_COLUMNS, "updated_at", "raw", "stripe_customer_id"})
RENAMED = {"stripe_created": "created"}


class Money(BaseModel):
    """An amount in minor units (cents) and a lower-case ISO currency."""

    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class Shown:
    """One field of the response: its name, the column it shows, and for money the currency."""

    name: str
    column: str
    currency: str | None = None


@dataclass(frozen=True)
class Child:
    """Rows of another table listed under each row (`parent` is their column naming it)."""

    shape: ReadShape
    parent: str


def _none() -> Any:
    return None


@dataclass(frozen=True)
class RelatedSQL:
    """The SQL form of an account field: its selects, each naming the account's customer
    only through `customer` (a scalar subquery on the account_ref), so they can all be sent
    with the account's own select in one round trip; `build` turns their rows into the
    field's JSON-ready value (None for `default()`)."""

    queries: Callable[[ColumnElement[Any]], Mapping[str, Select[Any]]]
    build: Callable[[Mapping[str, Sequence[Any]]], Any]


@dataclass(frozen=True)
class Related:
    """A field of each shown row whose value is held by other rows, usually another family's.

    `load` gets every row of one response (listing rows, or the account row) and returns
    their values by row id, with one query for all of them; a row it leaves out shows
    `default()`. Reading at read time, rather than copying the value into the shown row,
    keeps each family's rows under its own events' stamps, whatever order they arrive in.
    """

    type: Any  # the field's type in the response model: a pydantic model | None, list[str], ...
    load: Callable[[Session, Sequence[Any]], Mapping[Any, Any]]
    default: Callable[[], Any] = _none
    doc: str = ""  # the field's description in the OpenAPI document
    sql: RelatedSQL | None = None  # the account answer's one-round-trip form (account fields)


@dataclass(frozen=True)
class ReadShape:
    """A family's rows as the read API shows them (`{title}Out`)."""

    title: str  # "Invoice": the model is InvoiceOut
    table: Table
    doc: str  # the model's description in the OpenAPI document
    hidden: frozenset[str] = frozenset()
    money: Mapping[str, str] = field(default_factory=dict)  # amount column -> currency column
    children: Mapping[str, Child] = field(default_factory=dict)
    related: Mapping[str, Related] = field(default_factory=dict)

    def with_related(self, extra: Mapping[str, Related]) -> ReadShape:
        """This shape with more related fields (those other families add to it)."""
        if not extra:
            return self
        taken = {f.name for f in self.shown} | set(self.children) | set(self.related)
        clash = sorted(taken.intersection(extra))
        if clash:
            raise ValueError(f"{self.title}: fields {clash} are already shown")
        return replace(self, related={**self.related, **extra})

    def load_related(self, session: Session, rows: Sequence[Any]) -> dict[str, Mapping[Any, Any]]:
        """The related fields' values of these rows: one load per field."""
        return {name: r.load(session, rows) if rows else {} for name, r in self.related.items()}

    @cached_property
    def shown(self) -> tuple[Shown, ...]:
        """The fields, in the table's column order."""
        skip = INTERNAL | self.hidden | set(self.money.values())
        return tuple(
            Shown(RENAMED.get(c.name, c.name), c.name, self.money.get(c.name))
            for c in self.table.columns
            if c.name not in skip
        )

    @cached_property
    def model(self) -> type[BaseModel]:
        """The response model: one field per shown column, then the children's lists."""
        fields: dict[str, Any] = {}
        for f in self.shown:
            column = self.table.c[f.column]
            kind: Any = Money if f.currency else column.type.python_type
            nullable = column.nullable or (f.currency and self.table.c[f.currency].nullable)
            fields[f.name] = (kind | None if nullable else kind, ...)
        for name, child in self.children.items():
            fields[name] = (list[child.shape.model], ...)  # type: ignore[name-defined]
        for name, r in self.related.items():
            fields[name] = (r.type, Field(..., description=r.doc or None))
        model: type[BaseModel] = create_model(f"{self.title}Out", __doc__=self.doc, **fields)
        return model

    def shape(
        self,
        row: Any,
        children: Mapping[str, Sequence[Any]] | None = None,
        related: Mapping[str, Mapping[Any, Any]] | None = None,
    ) -> Any:
        """A row (its children's rows, its related values) as its JSON-ready response body."""
        values: dict[str, Any] = {}
        for f in self.shown:
            value = getattr(row, f.column)
            if f.currency is not None:
                code = getattr(row, f.currency)
                value = Money(amount=value, currency=code) if value is not None and code else None
            values[f.name] = value
        for name, child in self.children.items():
            rows = (children or {}).get(name, ())
            values[name] = [child.shape.shape(r) for r in rows]
        for name, r in self.related.items():
            found = (related or {}).get(name, {})
            values[name] = found[row.id] if row.id in found else r.default()
        return self.model.model_validate(values).model_dump(mode="json")


@dataclass(frozen=True)
class Listing:
    """GET /v1/accounts/{account_ref}/<family name>: the rows of the account's customer.

    Paginated: newest first (Stripe's `created`, then id) with a keyset cursor, `?limit=`
    and an optional `?status=`. Unpaginated: every row (at most `MAX_ROWS`) in `order`,
    only those in `default_status` unless `?status=` asks for another. Rows in a status of
    `never_listed` (tombstones: a deleted draft invoice) are never shown, and `?status=`
    does not offer those statuses.
    """

    summary: str  # the operation's summary in the OpenAPI document
    shape: ReadShape
    status: type[StrEnum] | None = None  # the values of the `?status=` filter
    paginated: bool = True
    default_status: StrEnum | None = None
    order: tuple[str, ...] = ()  # unpaginated: column names, "-" first for descending
    never_listed: frozenset[StrEnum] = frozenset()  # statuses whose rows are never shown

    @cached_property
    def filter_status(self) -> type[StrEnum] | None:
        """The values `?status=` accepts: `status` but the never-listed ones."""
        if self.status is None or not self.never_listed:
            return self.status
        shown = {m.name: m.value for m in self.status if m not in self.never_listed}
        return StrEnum(f"Listed{self.status.__name__}", shown)  # type: ignore[return-value]

    # Which rows are the customer's, when the row does not always name its customer (a
    # refund or dispute: through its charge or payment intent, resolved at read time so
    # it never depends on which event arrived first). Default: its stripe_customer_id.
    owner: Callable[[str], ColumnElement[bool]] | None = None

    def rows_of(self, customer_id: str) -> ColumnElement[bool]:
        """The WHERE clause selecting the customer's rows."""
        if self.owner is not None:
            return self.owner(customer_id)
        return self.shape.table.c.stripe_customer_id == customer_id

    def with_related(self, extra: Mapping[str, Related]) -> Listing:
        """This listing with more related fields on its rows."""
        return replace(self, shape=self.shape.with_related(extra)) if extra else self


MAX_ROWS = 100
