"""price.* events -> prices: a price's name, product, amount and interval.

The plan catalog (domain.plans) says what a price means to the product (tier, interval);
this table says what Stripe calls it (nickname, lookup key) and bills (amount, interval),
also for prices the catalog does not list. Same shape in both API versions; an amount is
null for tiered or custom-amount prices (`unit_amount` null), which are still mirrored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Family, Incoming, Refs, Row
from domain.mirror.ordering import tie_rank
from domain.mirror.stripe_json import currency, opt_int, opt_str, ref_id, require_id, sub, ts
from domain.mirror.tables import ID, Stamped, stamp_columns
from domain.models import Base
from domain.types import JSONType, UTCDateTime

DELETED = "price.deleted"
TYPE_PROGRESS = {"price.created": 0, "price.updated": 1}


@dataclass(frozen=True, slots=True)
class PriceView:
    id: str
    product_id: str | None
    nickname: str | None
    lookup_key: str | None
    active: bool
    deleted: bool
    unit_amount: int | None
    currency: str | None
    interval: str | None  # None: a one-time price
    created: datetime | None
    raw: dict[str, Any] = field(repr=False)


def short(value: Any) -> str | None:
    """An enum-like string Stripe may extend (`day`, `week`, ...), bounded to its column."""
    text = opt_str(value)
    return text[:16] if text else None


def parse_price(obj: dict[str, Any], api_version: str | None = None) -> PriceView:
    """A price (one shape in every API version; `product` an id or expanded)."""
    return PriceView(
        id=require_id(obj, "price"),
        product_id=ref_id(obj.get("product")),
        nickname=opt_str(obj.get("nickname")),
        lookup_key=opt_str(obj.get("lookup_key")),
        active=obj.get("active") is True,
        deleted=obj.get("deleted") is True,
        unit_amount=opt_int(obj.get("unit_amount")),
        currency=currency(obj.get("currency")),
        interval=short(sub(obj, "recurring", "interval")),
        created=ts(obj.get("created")),
        raw=obj,
    )


def price_refs(view: PriceView, event: EventEnvelope) -> Refs:
    return Refs(view.id)


def price_rank(view: PriceView, event_type: str) -> int:
    """A deleted price is terminal; otherwise the event type's place."""
    deleted = view.deleted or event_type == DELETED
    return tie_rank(terminal=deleted, status_rank=0, progress=TYPE_PROGRESS.get(event_type, 2))


def price_transition(view: PriceView, incoming: Incoming[None]) -> Row:
    deleted = view.deleted or incoming.type == DELETED
    return {
        "id": view.id,
        "product_id": view.product_id,
        "nickname": view.nickname,
        "lookup_key": view.lookup_key,
        "active": view.active and not deleted,
        "deleted": deleted,
        "unit_amount": view.unit_amount,
        "currency": view.currency,
        "recurring_interval": view.interval,
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


class Price(Stamped, Base):
    """A Stripe price: what it is called and what it bills (minor units of `currency`)."""

    __tablename__ = "prices"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    product_id: Mapped[str | None] = mapped_column(ID, index=True)
    nickname: Mapped[str | None] = mapped_column(Text)
    lookup_key: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean)
    deleted: Mapped[bool] = mapped_column(Boolean)
    unit_amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    recurring_interval: Mapped[str | None] = mapped_column(String(16))
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


PRICES: Table = Price.__table__  # type: ignore[assignment]

FAMILY = Family(
    name="prices",
    object_type="price",
    event_types=("price.created", "price.updated", DELETED),
    parse=parse_price,
    refs=price_refs,
    rank=price_rank,
    transition=price_transition,
    table=PRICES,
)
