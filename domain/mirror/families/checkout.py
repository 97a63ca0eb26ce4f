"""checkout.session.* events -> checkout_sessions, and the account <-> customer link.

A session's `client_reference_id` (or `metadata.account_ref`) is the product's account;
every event naming both it and a customer links the two, whatever the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from domain.credits.period import grant_batch_dues, grant_for_customer
from domain.envelope import EventEnvelope
from domain.mirror.accounts import fill_blank_account_fields, link_account
from domain.mirror.families._family import Family, Incoming, Refs, Row
from domain.mirror.notices import Notice
from domain.mirror.ordering import tie_rank
from domain.mirror.statuses import (
    CheckoutPaymentStatus,
    CheckoutStatus,
    NotificationKind,
    enum_type,
)
from domain.mirror.stripe_json import (
    currency,
    enum_or_none,
    opt_int,
    opt_str,
    ref_id,
    require_id,
    sub,
    ts,
)
from domain.mirror.tables import ID, Stamped, stamp_columns
from domain.mirror.unit import Unit
from domain.models import Base
from domain.types import JSONType, UTCDateTime

EXPIRED_EVENT = "checkout.session.expired"


@dataclass(frozen=True, slots=True)
class CheckoutView:
    """A checkout session; `client_reference_id` is the product's account_ref."""

    id: str
    account_ref: str | None
    customer_id: str | None
    subscription_id: str | None
    mode: str | None
    status: CheckoutStatus | None
    payment_status: CheckoutPaymentStatus | None
    amount_total: int | None
    currency: str | None
    email: str | None
    name: str | None
    created: datetime | None
    raw: dict[str, Any] = field(repr=False)


def parse_checkout(obj: dict[str, Any], api_version: str | None = None) -> CheckoutView:
    """Parse a checkout.session object (the same in both API shapes)."""
    return CheckoutView(
        id=require_id(obj, "checkout session"),
        account_ref=opt_str(obj.get("client_reference_id"))
        or opt_str(sub(obj, "metadata", "account_ref")),
        customer_id=ref_id(obj.get("customer")),
        subscription_id=ref_id(obj.get("subscription")),
        mode=opt_str(obj.get("mode")),
        status=enum_or_none(CheckoutStatus, obj.get("status")),
        payment_status=enum_or_none(CheckoutPaymentStatus, obj.get("payment_status")),
        amount_total=opt_int(obj.get("amount_total")),
        currency=currency(obj.get("currency")),
        email=opt_str(sub(obj, "customer_details", "email")) or opt_str(obj.get("customer_email")),
        name=opt_str(sub(obj, "customer_details", "name")),
        created=ts(obj.get("created")),
        raw=obj,
    )


def checkout_refs(view: CheckoutView, event: EventEnvelope) -> Refs:
    return Refs(view.id, view.customer_id, view.account_ref)


CHECKOUT_RANK = {None: 0, CheckoutStatus.OPEN: 0, CheckoutStatus.COMPLETE: 1}
# Completion comes before the asynchronous settlement (iDEAL, SEPA) of the same second.
TYPE_PROGRESS = {
    "checkout.session.completed": 0,
    "checkout.session.async_payment_succeeded": 1,
    "checkout.session.async_payment_failed": 1,
}


def checkout_rank(view: CheckoutView, event_type: str) -> int:
    """Expired is terminal; completion before async settlement."""
    expired = view.status is CheckoutStatus.EXPIRED or event_type == EXPIRED_EVENT
    return tie_rank(
        terminal=expired,
        status_rank=CHECKOUT_RANK.get(view.status, 0),
        progress=TYPE_PROGRESS.get(event_type, 1),
    )


def checkout_transition(view: CheckoutView, incoming: Incoming[None]) -> Row:
    """The checkout session's new row."""
    status = CheckoutStatus.EXPIRED if incoming.type == EXPIRED_EVENT else view.status
    return {
        "id": view.id,
        "account_ref": view.account_ref,
        "stripe_customer_id": view.customer_id,
        "subscription_id": view.subscription_id,
        "mode": view.mode,
        "status": status,
        "payment_status": view.payment_status,
        "amount_total": view.amount_total,
        "currency": view.currency,
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


def link_checkout_account(unit: Unit, view: CheckoutView, now: datetime) -> None:
    """Link the session's account to its customer; checkout details fill blanks only."""
    # Linking is a fact, not a state: every checkout event with both ids applies it.
    if view.account_ref is None or view.customer_id is None:
        return
    grant_batch_dues(unit, now)  # the batch's earlier dues see the link as it was before
    account = link_account(
        unit.session, account_ref=view.account_ref, customer_id=view.customer_id, now=now
    )
    if account is not None:
        details = {"email": view.email, "name": view.name, "currency": view.currency}
        fill_blank_account_fields(unit.session, account, details, now)
        # Credits its subscriptions' events could not grant before the link.
        grant_for_customer(unit, view.customer_id, now)


def checkout_notices(view: CheckoutView, incoming: Incoming[None]) -> list[Notice]:
    """An asynchronous payment (iDEAL, SEPA) of a checkout failed."""
    if incoming.type != "checkout.session.async_payment_failed":
        return []
    payload = {
        "checkout_session_id": view.id,
        "subscription_id": view.subscription_id,
        "amount_total": view.amount_total,
        "currency": view.currency,
    }
    return [Notice(NotificationKind.CHECKOUT_ASYNC_PAYMENT_FAILED, payload)]


class CheckoutSession(Stamped, Base):
    """A Stripe Checkout session; its client_reference_id links a customer to an account."""

    __tablename__ = "checkout_sessions"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_ref: Mapped[str | None] = mapped_column(ID, index=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(ID)
    subscription_id: Mapped[str | None] = mapped_column(ID)
    mode: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[CheckoutStatus | None] = mapped_column(
        enum_type(CheckoutStatus, "checkout_status", 16)
    )
    payment_status: Mapped[CheckoutPaymentStatus | None] = mapped_column(
        enum_type(CheckoutPaymentStatus, "checkout_payment_status", 32)
    )
    amount_total: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


CHECKOUT_SESSIONS: Table = CheckoutSession.__table__  # type: ignore[assignment]

FAMILY = Family(
    name="checkout-sessions",
    object_type="checkout.session",
    event_types=(
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        EXPIRED_EVENT,
    ),
    parse=parse_checkout,
    refs=checkout_refs,
    rank=checkout_rank,
    transition=checkout_transition,
    table=CHECKOUT_SESSIONS,
    notices=checkout_notices,
    kinds=(NotificationKind.CHECKOUT_ASYNC_PAYMENT_FAILED,),
    every_event=link_checkout_account,
)
