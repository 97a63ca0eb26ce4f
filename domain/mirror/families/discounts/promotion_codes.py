"""promotion_code.* events -> promotion_codes: the customer-facing code of a coupon.

A discount redeemed with a code names it (`discount.promotion_code`); the read side shows
the code the customer typed. Both API shapes: from 2025-09-30 the coupon is named under
`promotion.coupon` (an id), before under `coupon` (the coupon itself, expanded).
Stripe never deletes a promotion code: it is deactivated (`active: false`), and may be
reactivated, so no state is terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Family, Incoming, Refs, Row
from domain.mirror.ordering import tie_rank
from domain.mirror.stripe_json import (
    ApiShape,
    opt_str,
    ref_id,
    require_id,
    shape_from_version,
    sub,
    ts,
)
from domain.mirror.tables import ID, Stamped, stamp_columns
from domain.models import Base
from domain.types import JSONType, UTCDateTime

CREATED, UPDATED = "promotion_code.created", "promotion_code.updated"


@dataclass(frozen=True, slots=True)
class PromotionCodeView:
    """A promotion code: the code, its coupon, whether it can be redeemed now."""

    id: str
    code: str | None
    coupon_id: str | None
    customer_id: str | None  # only this customer may redeem it (usually None)
    active: bool
    expires_at: datetime | None
    created: datetime | None
    shape: ApiShape
    raw: dict[str, Any] = field(repr=False)


def promotion_code_shape(obj: dict[str, Any], api_version: str | None) -> ApiShape:
    """`promotion` (2025-09-30 on) means current, a top-level `coupon` the older shape."""
    if isinstance(obj.get("promotion"), dict):
        return ApiShape.CURRENT
    return shape_from_version(api_version)


def parse_promotion_code(obj: dict[str, Any], api_version: str | None = None) -> PromotionCodeView:
    """Parse a promotion_code object in either API shape."""
    coupon = ref_id(sub(obj, "promotion", "coupon")) or ref_id(obj.get("coupon"))
    return PromotionCodeView(
        id=require_id(obj, "promotion code"),
        code=opt_str(obj.get("code")),
        coupon_id=coupon,
        customer_id=ref_id(obj.get("customer")),
        active=obj.get("active") is True,
        expires_at=ts(obj.get("expires_at")),
        created=ts(obj.get("created")),
        shape=promotion_code_shape(obj, api_version),
        raw=obj,
    )


def promotion_code_refs(view: PromotionCodeView, event: EventEnvelope) -> Refs:
    return Refs(view.id)


def promotion_code_rank(view: PromotionCodeView, event_type: str) -> int:
    """Nothing is terminal (a code can be reactivated); creation before updates."""
    return tie_rank(terminal=False, status_rank=0, progress=0 if event_type == CREATED else 1)


def promotion_code_transition(view: PromotionCodeView, incoming: Incoming[None]) -> Row:
    return {
        "id": view.id,
        "code": view.code,
        "coupon_id": view.coupon_id,
        "stripe_customer_id": view.customer_id,
        "active": view.active,
        "expires_at": view.expires_at,
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


class PromotionCode(Stamped, Base):
    """A Stripe promotion code (the code a customer types for a coupon)."""

    __tablename__ = "promotion_codes"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(255))
    coupon_id: Mapped[str | None] = mapped_column(ID)
    stripe_customer_id: Mapped[str | None] = mapped_column(ID)
    active: Mapped[bool] = mapped_column(Boolean)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


PROMOTION_CODES: Table = PromotionCode.__table__  # type: ignore[assignment]

FAMILY = Family(
    name="promotion-codes",
    object_type="promotion_code",
    event_types=(CREATED, UPDATED),
    parse=parse_promotion_code,
    refs=promotion_code_refs,
    rank=promotion_code_rank,
    transition=promotion_code_transition,
    table=PROMOTION_CODES,
)
