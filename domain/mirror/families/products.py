"""product.* events -> products: the names of what the account sells.

Kept small (name, active, deleted): the mirror needs a product's name next to its prices
and features, not its marketing details. The object has the same shape in both API
versions; `product.deleted` sends the last state of the product (the row is kept, marked
deleted, so prices that name it still resolve).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Family, Incoming, Refs, Row
from domain.mirror.ordering import tie_rank
from domain.mirror.stripe_json import opt_str, require_id, ts
from domain.mirror.tables import ID, Stamped, stamp_columns
from domain.models import Base
from domain.types import JSONType, UTCDateTime

DELETED = "product.deleted"
# Same second: creation, then updates, then the deletion (which nothing follows).
TYPE_PROGRESS = {"product.created": 0, "product.updated": 1}


@dataclass(frozen=True, slots=True)
class ProductView:
    id: str
    name: str | None
    active: bool
    deleted: bool  # the event says so (product.deleted), or the object does
    created: datetime | None
    raw: dict[str, Any] = field(repr=False)


def parse_product(obj: dict[str, Any], api_version: str | None = None) -> ProductView:
    """A product (one shape in every API version)."""
    return ProductView(
        id=require_id(obj, "product"),
        name=opt_str(obj.get("name")),
        active=obj.get("active") is True,
        deleted=obj.get("deleted") is True,
        created=ts(obj.get("created")),
        raw=obj,
    )


def product_refs(view: ProductView, event: EventEnvelope) -> Refs:
    return Refs(view.id)


def product_rank(view: ProductView, event_type: str) -> int:
    """A deleted product is terminal; otherwise the event type's place."""
    deleted = view.deleted or event_type == DELETED
    return tie_rank(terminal=deleted, status_rank=0, progress=TYPE_PROGRESS.get(event_type, 2))


def product_transition(view: ProductView, incoming: Incoming[None]) -> Row:
    deleted = view.deleted or incoming.type == DELETED
    return {
        "id": view.id,
        "name": view.name,
        "active": view.active and not deleted,
        "deleted": deleted,
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


class Product(Stamped, Base):
    """A Stripe product: its name (for prices and features shown by name)."""

    __tablename__ = "products"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)
    deleted: Mapped[bool] = mapped_column(Boolean)
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


PRODUCTS: Table = Product.__table__  # type: ignore[assignment]

FAMILY = Family(
    name="products",
    object_type="product",
    event_types=("product.created", "product.updated", DELETED),
    parse=parse_product,
    refs=product_refs,
    rank=product_rank,
    transition=product_transition,
    table=PRODUCTS,
)
