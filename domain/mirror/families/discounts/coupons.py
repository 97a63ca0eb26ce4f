"""coupon.* events -> coupons: the names and terms discounts are shown with.

A coupon is no customer's: a discount names it, and the read side joins the two when it
answers (so a discount event arriving before its coupon's loses nothing). Stripe never
changes a coupon's terms after creation (only its name and metadata), and deleting a
coupon does not end the discounts made from it: a deleted coupon's row is kept, flagged.
The object did not change between the API shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Integer, Numeric, String, Table, false
from sqlalchemy.orm import Mapped, mapped_column

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Family, Incoming, Refs, Row
from domain.mirror.ordering import tie_rank
from domain.mirror.stripe_json import currency, opt_int, opt_str, require_id, ts
from domain.mirror.tables import ID, Stamped, stamp_columns
from domain.models import Base
from domain.types import JSONType, UTCDateTime

CREATED, UPDATED, DELETED = (f"coupon.{t}" for t in ("created", "updated", "deleted"))


@dataclass(frozen=True, slots=True)
class CouponView:
    """A coupon's name and terms: a percentage or an amount (minor units) off, how long."""

    id: str
    name: str | None
    percent_off: float | None
    amount_off: int | None
    currency: str | None
    duration: str | None
    duration_in_months: int | None
    valid: bool | None
    deleted: bool
    created: datetime | None
    raw: dict[str, Any] = field(repr=False)


def _percent(value: Any) -> float | None:
    """Stripe's percent_off: a number with up to two decimals (25.5), 0 < p <= 100."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return round(float(value), 2) if 0 <= value <= 100 else None


def parse_coupon(obj: dict[str, Any], api_version: str | None = None) -> CouponView:
    """Parse a coupon object (both API shapes; also the expanded coupon of a discount)."""
    valid = obj.get("valid")
    return CouponView(
        id=require_id(obj, "coupon"),
        name=opt_str(obj.get("name")),
        percent_off=_percent(obj.get("percent_off")),
        amount_off=opt_int(obj.get("amount_off")),
        currency=currency(obj.get("currency")),
        duration=opt_str(obj.get("duration")),
        duration_in_months=opt_int(obj.get("duration_in_months")),
        valid=valid if isinstance(valid, bool) else None,
        deleted=obj.get("deleted") is True,
        created=ts(obj.get("created")),
        raw=obj,
    )


def coupon_refs(view: CouponView, event: EventEnvelope) -> Refs:
    return Refs(view.id)


def coupon_deleted(view: CouponView, event_type: str) -> bool:
    return event_type == DELETED or view.deleted


def coupon_rank(view: CouponView, event_type: str) -> int:
    """Deleted is terminal (a coupon id is never restored); creation before updates."""
    return tie_rank(
        terminal=coupon_deleted(view, event_type),
        status_rank=0,
        progress=0 if event_type == CREATED else 1,
    )


def coupon_transition(view: CouponView, incoming: Incoming[None]) -> Row:
    """The coupon's new row (a deleted one keeps its terms: its discounts still apply)."""
    return {
        "id": view.id,
        "name": view.name,
        "percent_off": view.percent_off,
        "amount_off": view.amount_off,
        "currency": view.currency,
        "duration": view.duration,
        "duration_in_months": view.duration_in_months,
        "valid": view.valid,
        "deleted": coupon_deleted(view, incoming.type),
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


class Coupon(Stamped, Base):
    """A Stripe coupon (deleted ones are kept, flagged: their discounts still apply)."""

    __tablename__ = "coupons"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    percent_off: Mapped[float | None] = mapped_column(Numeric(5, 2, asdecimal=False))
    amount_off: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    # once / repeating / forever; a value Stripe adds is stored as sent.
    duration: Mapped[str | None] = mapped_column(String(16))
    duration_in_months: Mapped[int | None] = mapped_column(Integer)
    valid: Mapped[bool | None] = mapped_column(Boolean)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


COUPONS: Table = Coupon.__table__  # type: ignore[assignment]

FAMILY = Family(
    name="coupons",
    object_type="coupon",
    event_types=(CREATED, UPDATED, DELETED),
    parse=parse_coupon,
    refs=coupon_refs,
    rank=coupon_rank,
    transition=coupon_transition,
    table=COUPONS,
)
