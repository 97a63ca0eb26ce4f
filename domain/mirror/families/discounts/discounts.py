"""customer.discount.* events -> discounts, and the active discount the read API shows.

Stripe sends customer.discount.* for a customer's own discount and for a discount on one
of its subscriptions (`subscription` set) or invoices (`invoice` set), so these rows are
every discount of the customer; subscription events (another family's) are not read.

Both API shapes: from 2025-09-30 a discount names its coupon by id under `source.coupon`;
before, it carries the coupon itself under `coupon` (expanded). Discounts made before API
2020-08-27 have no id: their row id is `<customer>:<subscription or "customer">`, the one
discount such a customer (or subscription) could have.

The read side joins a discount with its coupon (name, terms) and promotion code (the code)
when it answers, so the order their events arrive in changes nothing; a coupon the mirror
never received is read from the discount's own expanded coupon when it has one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Boolean, ColumnElement, Select, Table, and_, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Family, Incoming, Refs, Row
from domain.mirror.families._read import Money, Related, RelatedSQL
from domain.mirror.families.discounts.coupons import COUPONS, CouponView, parse_coupon
from domain.mirror.families.discounts.promotion_codes import PROMOTION_CODES
from domain.mirror.ordering import tie_rank
from domain.mirror.stripe_json import (
    ApiShape,
    ViewError,
    opt_str,
    ref_id,
    shape_from_version,
    sub,
    ts,
)
from domain.mirror.tables import ID, Stamped, stamp_columns
from domain.models import Base
from domain.types import JSONType, UTCDateTime, utcnow

CREATED, UPDATED, DELETED = (f"customer.discount.{t}" for t in ("created", "updated", "deleted"))
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class DiscountView:
    """A discount: which coupon, applied to the customer, a subscription or an invoice."""

    id: str
    customer_id: str | None
    coupon_id: str | None
    promotion_code_id: str | None
    subscription_id: str | None
    invoice_id: str | None
    start: datetime | None
    end: datetime | None
    shape: ApiShape
    raw: dict[str, Any] = field(repr=False)


def discount_shape(obj: dict[str, Any], api_version: str | None) -> ApiShape:
    """`source` (2025-09-30 on) means current; else the version (2025-03-31 still nests it)."""
    if isinstance(obj.get("source"), dict):
        return ApiShape.CURRENT
    return shape_from_version(api_version)


def embedded_coupon(obj: Mapping[str, Any]) -> Any:
    """The coupon a discount names: `source.coupon` (id or expanded), else `coupon`."""
    return sub(obj, "source", "coupon") or obj.get("coupon")


def parse_discount(obj: dict[str, Any], api_version: str | None = None) -> DiscountView:
    """Parse a discount object in either API shape (also the payload of .deleted)."""
    customer = ref_id(obj.get("customer"))
    subscription = ref_id(obj.get("subscription"))
    discount_id = opt_str(obj.get("id"))
    if discount_id is None:
        if customer is None:
            raise ViewError("discount without an id or a customer")
        discount_id = f"{customer}:{subscription or 'customer'}"
    return DiscountView(
        id=discount_id,
        customer_id=customer,
        coupon_id=ref_id(embedded_coupon(obj)),
        promotion_code_id=ref_id(obj.get("promotion_code")),
        subscription_id=subscription,
        invoice_id=ref_id(obj.get("invoice")),
        start=ts(obj.get("start")),
        end=ts(obj.get("end")),
        shape=discount_shape(obj, api_version),
        raw=obj,
    )


def discount_refs(view: DiscountView, event: EventEnvelope) -> Refs:
    return Refs(view.id, view.customer_id)


def discount_rank(view: DiscountView, event_type: str) -> int:
    """Deleted (removed or ended) is terminal; creation before updates."""
    return tie_rank(
        terminal=event_type == DELETED,
        status_rank=0,
        progress=0 if event_type == CREATED else 1,
    )


def discount_transition(view: DiscountView, incoming: Incoming[None]) -> Row:
    """The discount's new row; a deleted one is kept, flagged, and never shown again."""
    return {
        "id": view.id,
        "stripe_customer_id": view.customer_id,
        "coupon_id": view.coupon_id,
        "promotion_code_id": view.promotion_code_id,
        "subscription_id": view.subscription_id,
        "invoice_id": view.invoice_id,
        "starts_at": view.start,
        "ends_at": view.end,
        "deleted": incoming.type == DELETED,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


class Discount(Stamped, Base):
    """A discount of a customer, or of one of its subscriptions or invoices."""

    __tablename__ = "discounts"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(ID, index=True)
    coupon_id: Mapped[str | None] = mapped_column(ID)
    promotion_code_id: Mapped[str | None] = mapped_column(ID)
    subscription_id: Mapped[str | None] = mapped_column(ID, index=True)
    invoice_id: Mapped[str | None] = mapped_column(ID)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted: Mapped[bool] = mapped_column(Boolean)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


DISCOUNTS: Table = Discount.__table__  # type: ignore[assignment]


class DiscountOut(BaseModel):
    """An active discount: its coupon's name and terms, the code redeemed, until when.

    Terms are null when the mirror has neither the coupon nor a copy of it in the
    discount (a coupon created before the webhook endpoint, on API 2025-09-30 or later).
    """

    id: str
    coupon_id: str | None
    name: str | None
    percent_off: float | None
    amount_off: Money | None
    duration: str | None  # once | repeating | forever
    duration_in_months: int | None
    promotion_code: str | None  # the code the customer redeemed, if any
    subscription_id: str | None  # null: the customer's own discount
    start: datetime | None
    end: datetime | None  # null: forever (or until removed)


# --- read side -----------------------------------------------------------------------


def is_active(row: Any, now: datetime) -> bool:
    """Not deleted and not ended (Stripe deletes ended discounts, but may not have yet)."""
    return not row.deleted and (row.ends_at is None or row.ends_at > now)


def newest(rows: Iterable[Any]) -> Any | None:
    """The most recently started of several discounts (Stripe stacks them since 2025)."""
    return max(rows, key=lambda r: (r.starts_at or EPOCH, r.id), default=None)


def _coupon_of(row: Any, coupons: Mapping[str, Any]) -> Any | CouponView | None:
    """The coupon row, else the coupon the discount itself carried (expanded)."""
    if row.coupon_id in coupons:
        return coupons[row.coupon_id]
    carried = embedded_coupon(row.raw or {})
    if isinstance(carried, dict):
        try:
            return parse_coupon(carried)
        except ViewError:
            return None
    return None


def discount_bodies(session: Session, rows: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """{discount id: its DiscountOut body}: the coupons and codes in one query each."""
    coupon_ids = {r.coupon_id for r in rows if r.coupon_id}
    promo_ids = {r.promotion_code_id for r in rows if r.promotion_code_id}
    # No query for an empty set (most accounts show no discount at all).
    coupons = (
        list(session.execute(select(COUPONS).where(COUPONS.c.id.in_(coupon_ids))))
        if coupon_ids
        else []
    )
    codes = (
        list(session.execute(_CODES.where(PROMOTION_CODES.c.id.in_(promo_ids))))
        if promo_ids
        else []
    )
    return bodies_of(rows, coupons, codes)


_CODES = select(PROMOTION_CODES.c.id, PROMOTION_CODES.c.code)


def bodies_of(
    rows: Sequence[Any], coupon_rows: Iterable[Any], code_rows: Iterable[Any]
) -> dict[str, dict[str, Any]]:
    """{discount id: its DiscountOut body}, from the discounts' coupon and code rows."""
    coupons = {c.id: c for c in coupon_rows}
    codes = {p.id: p.code for p in code_rows}
    bodies = {}
    for row in rows:
        coupon = _coupon_of(row, coupons)
        amount = getattr(coupon, "amount_off", None)
        code = getattr(coupon, "currency", None)
        body = DiscountOut(
            id=row.id,
            coupon_id=row.coupon_id,
            name=getattr(coupon, "name", None),
            percent_off=getattr(coupon, "percent_off", None),
            amount_off=Money(amount=amount, currency=code) if amount is not None and code else None,
            duration=getattr(coupon, "duration", None),
            duration_in_months=getattr(coupon, "duration_in_months", None),
            promotion_code=codes.get(row.promotion_code_id),
            subscription_id=row.subscription_id,
            start=row.starts_at,
            end=row.ends_at,
        )
        bodies[row.id] = body.model_dump(mode="json")
    return bodies


def _customer_wide(row: Any) -> bool:
    return row.subscription_id is None and row.invoice_id is None


def _live_discounts(session: Session, *conditions: Any) -> list[Any]:
    now = utcnow()
    stmt = select(DISCOUNTS).where(DISCOUNTS.c.deleted.is_(False), or_(*conditions))
    return [r for r in session.execute(stmt) if is_active(r, now)]


def account_discounts(session: Session, accounts: Sequence[Any]) -> Mapping[Any, Any]:
    """{account id: its customer's own active discount (the newest)}, for the account answer."""
    by_customer = {a.stripe_customer_id: a.id for a in accounts if a.stripe_customer_id}
    if not by_customer:
        return {}
    c = DISCOUNTS.c
    found = _live_discounts(
        session,
        and_(c.stripe_customer_id.in_(list(by_customer)), c.subscription_id.is_(None)),
    )
    chosen = {
        cus: newest(r for r in found if r.stripe_customer_id == cus and _customer_wide(r))
        for cus in by_customer
    }
    live = [r for r in chosen.values() if r is not None]
    bodies = discount_bodies(session, live)
    return {by_customer[cus]: bodies[r.id] for cus, r in chosen.items() if r is not None}


def subscription_discounts(session: Session, subscriptions: Sequence[Any]) -> Mapping[Any, Any]:
    """{subscription id: its active discount}: its own (the newest), else its customer's
    (Stripe applies a customer's discount to a subscription that has none of its own)."""
    sub_ids = [s.id for s in subscriptions]
    customers = list({s.stripe_customer_id for s in subscriptions if s.stripe_customer_id})
    c = DISCOUNTS.c
    found = _live_discounts(
        session,
        c.subscription_id.in_(sub_ids),
        and_(c.stripe_customer_id.in_(customers), c.subscription_id.is_(None)),
    )
    chosen = {}
    for s in subscriptions:
        own = newest(r for r in found if r.subscription_id == s.id)
        chosen[s.id] = own or newest(
            r for r in found if r.stripe_customer_id == s.stripe_customer_id and _customer_wide(r)
        )
    bodies = discount_bodies(session, [r for r in chosen.values() if r is not None])
    return {sid: bodies[r.id] for sid, r in chosen.items() if r is not None}


def _account_discount_queries(customer: ColumnElement[Any]) -> Mapping[str, Select[Any]]:
    """The customer's own discounts, with their coupons and codes (no rows: no discount)."""
    c = DISCOUNTS.c
    own = and_(c.stripe_customer_id == customer, c.subscription_id.is_(None), c.deleted.is_(False))
    return {
        "discounts": select(DISCOUNTS).where(own),
        "coupons": select(COUPONS).where(COUPONS.c.id.in_(select(c.coupon_id).where(own))),
        "codes": _CODES.where(PROMOTION_CODES.c.id.in_(select(c.promotion_code_id).where(own))),
    }


def _account_discount_body(found: Mapping[str, Sequence[Any]]) -> Any:
    now = utcnow()
    row = newest(r for r in found["discounts"] if is_active(r, now) and _customer_wide(r))
    if row is None:
        return None
    return bodies_of([row], found["coupons"], found["codes"])[row.id]


ACCOUNT_DISCOUNT = Related(
    type=DiscountOut | None,
    load=account_discounts,
    sql=RelatedSQL(_account_discount_queries, _account_discount_body),
    doc="The customer's own active discount (the newest when Stripe stacks several);"
    " null when it has none. A subscription's discount is shown on the subscription.",
)
SUBSCRIPTION_DISCOUNT = Related(
    type=DiscountOut | None,
    load=subscription_discounts,
    doc="The subscription's active discount: its own (the newest), else the customer's;"
    " null when neither has one.",
)

FAMILY = Family(
    name="discounts",
    object_type="discount",
    event_types=(CREATED, UPDATED, DELETED),
    parse=parse_discount,
    refs=discount_refs,
    rank=discount_rank,
    transition=discount_transition,
    table=DISCOUNTS,
    adds={
        "account": {"discount": ACCOUNT_DISCOUNT},
        "subscriptions": {"discount": SUBSCRIPTION_DISCOUNT},
    },
)
