"""payment_method.* events -> payment_methods (detached rows are kept, marked detached).

The table also holds a customer's legacy cards and sources (`source = true`, written by
the sources family under their own ids and stamps), so the listing shows every means of
payment; this family's rows have `source = false`.

A detach event's object has `customer: null`; the former owner comes from
previous_attributes, else from the stored row, so the row stays findable per customer.
Which one is the customer's default comes from the account (written by customer events):
its default payment method, else its legacy default source (`customer_default`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Table, and_, bindparam, false, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.envelope import EventEnvelope
from domain.mirror.accounts import ACCOUNTS
from domain.mirror.families._family import Family, Incoming, Known, Refs, Row
from domain.mirror.families._instruments import instrument_row
from domain.mirror.families._read import Listing, ReadShape
from domain.mirror.ordering import tie_rank
from domain.mirror.statuses import PaymentMethodStatus, enum_type
from domain.mirror.store import current_stamp, flush_writes
from domain.mirror.stripe_json import child, opt_int, opt_str, ref_id, require_id
from domain.mirror.tables import ID, Stamped
from domain.mirror.unit import Unit
from domain.models import Base
from domain.types import JSONType


@dataclass(frozen=True, slots=True)
class PaymentMethodView:
    """A payment method: card brand/last4/expiry, or SEPA / iDEAL bank details."""

    id: str
    customer_id: str | None
    type: str
    card_brand: str | None
    card_last4: str | None
    card_exp_month: int | None
    card_exp_year: int | None
    bank_code: str | None
    bank_last4: str | None
    bank_country: str | None
    ideal_bank: str | None
    ideal_bic: str | None
    raw: dict[str, Any] = field(repr=False)


def parse_payment_method(obj: dict[str, Any], api_version: str | None = None) -> PaymentMethodView:
    """Parse a payment_method object (the same in both API shapes)."""
    card = child(obj, "card")
    sepa = child(obj, "sepa_debit")
    ideal = child(obj, "ideal")
    return PaymentMethodView(
        id=require_id(obj, "payment method"),
        customer_id=ref_id(obj.get("customer")),
        type=opt_str(obj.get("type")) or "unknown",
        card_brand=opt_str(card.get("brand")),
        card_last4=opt_str(card.get("last4")),
        card_exp_month=opt_int(card.get("exp_month")),
        card_exp_year=opt_int(card.get("exp_year")),
        bank_code=opt_str(sepa.get("bank_code")),
        bank_last4=opt_str(sepa.get("last4")),
        bank_country=opt_str(sepa.get("country")),
        ideal_bank=opt_str(ideal.get("bank")),
        ideal_bic=opt_str(ideal.get("bic")),
        raw=obj,
    )


def payment_method_refs(view: PaymentMethodView, event: EventEnvelope) -> Refs:
    # A detach event's object has customer=null; the former owner is in previous_attributes.
    customer = view.customer_id or ref_id(event.previous_attributes.get("customer"))
    return Refs(view.id, customer)


def payment_method_detached(view: PaymentMethodView, event_type: str) -> bool:
    """Detached when the event says so or the payload no longer has a customer."""
    return event_type == "payment_method.detached" or view.customer_id is None


def payment_method_rank(view: PaymentMethodView, event_type: str) -> int:
    """Detached is terminal (Stripe never reattaches); an attach comes before updates."""
    return tie_rank(
        terminal=payment_method_detached(view, event_type),
        status_rank=0,
        progress=0 if event_type == "payment_method.attached" else 1,
    )


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose payment method it is (as far as the mirror knows) and that customer's default."""

    customer_id: str | None
    default_payment_method_id: str | None


def payment_method_known(unit: Unit, view: object, refs: Refs, now: datetime) -> Known[Owner]:
    """The row's stamp, its customer (the event's, else the stored row's) and its default.

    The same for a payment method and a legacy source (sources.py): both are rows here."""
    assert refs.id is not None
    customer = refs.customer_id or customer_of_payment_method(unit, refs.id)
    owner = Owner(customer, customer_default(unit.session, customer))
    return Known(current_stamp(unit, PAYMENT_METHODS, refs.id), owner)


def payment_method_transition(view: PaymentMethodView, incoming: Incoming[Owner]) -> Row:
    """The payment method's new row; a detached one keeps the customer it belonged to."""
    return instrument_row(
        view,
        incoming,
        detached=payment_method_detached(view, incoming.type),
        source=False,
        ideal=(view.ideal_bank, view.ideal_bic),
    )


class PaymentMethod(Stamped, Base):
    """A card, SEPA debit or iDEAL payment method of a customer."""

    __tablename__ = "payment_methods"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    # Kept after detach (from previous_attributes) so the row stays findable per customer.
    stripe_customer_id: Mapped[str | None] = mapped_column(ID, index=True)
    status: Mapped[PaymentMethodStatus] = mapped_column(
        enum_type(PaymentMethodStatus, "payment_method_status", 16)
    )
    type: Mapped[str] = mapped_column(String(64))
    # A legacy card or source (card_..., src_...; the sources family writes those rows).
    source: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    card_brand: Mapped[str | None] = mapped_column(String(32))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    card_exp_month: Mapped[int | None] = mapped_column(Integer)
    card_exp_year: Mapped[int | None] = mapped_column(Integer)
    bank_code: Mapped[str | None] = mapped_column(String(64))
    bank_last4: Mapped[str | None] = mapped_column(String(4))
    bank_country: Mapped[str | None] = mapped_column(String(2))
    ideal_bank: Mapped[str | None] = mapped_column(String(64))
    ideal_bic: Mapped[str | None] = mapped_column(String(16))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


PAYMENT_METHODS: Table = PaymentMethod.__table__  # type: ignore[assignment]


def customer_of_payment_method(unit: Unit, payment_method_id: str) -> str | None:
    """The customer a stored payment method row belongs to, if the row exists."""
    flush_writes(unit)
    return unit.session.execute(_PM_CUSTOMER, {"pm": payment_method_id}).scalar_one_or_none()


_PM_CUSTOMER = select(PAYMENT_METHODS.c.stripe_customer_id).where(
    PAYMENT_METHODS.c.id == bindparam("pm")
)


def default_of(default_payment_method_id: str | None, customer: Any) -> str | None:
    """A customer's default means of payment: `invoice_settings.default_payment_method`,
    else its legacy `default_source` (a card or source, which Stripe charges invoices with
    when no default payment method is set). `customer` is the customer object (or None).

    Both `customer_default` (a payment method or source event) and the customers family
    (a customer event) apply this one rule, so a row is flagged the same whichever of its
    event and the customer's arrives first.
    """
    if default_payment_method_id is not None:
        return default_payment_method_id
    return ref_id(customer.get("default_source")) if isinstance(customer, dict) else None


def customer_default(session: Session, customer_id: str | None) -> str | None:
    """The customer's default means of payment as the last customer event said (one query)."""
    if customer_id is None:
        return None
    found = session.execute(_CUSTOMER_DEFAULT, {"cus": customer_id}).first()
    return default_of(found.default_payment_method_id, found.raw) if found else None


_CUSTOMER_DEFAULT = select(ACCOUNTS.c.default_payment_method_id, ACCOUNTS.c.raw).where(
    ACCOUNTS.c.stripe_customer_id == bindparam("cus")
)


def sync_default_payment_method(
    unit: Unit, customer_id: str, default_id: str | None, now: datetime
) -> None:
    """Flag the customer's default means of payment (`default_of`) and unflag the others."""
    flush_writes(unit)  # the batch's payment method rows must be there to be flagged
    params = {"cus": customer_id, "default": default_id, "now": now}
    unit.session.execute(_SET_DEFAULT if default_id else _CLEAR_DEFAULT, params)


def _default_statement(is_default: Any) -> Any:
    c = PAYMENT_METHODS.c
    return (
        update(PAYMENT_METHODS)
        .where(c.stripe_customer_id == bindparam("cus"))
        .values(is_default=is_default, updated_at=bindparam("now"))
    )


# Only an attached row is flagged, as the transitions do: a detached method (or deleted
# source) named by a customer event arriving after the detach must stay unflagged.
_SET_DEFAULT = _default_statement(
    and_(
        PAYMENT_METHODS.c.id == bindparam("default"),
        PAYMENT_METHODS.c.status == PaymentMethodStatus.ATTACHED,
    )
)
_CLEAR_DEFAULT = _default_statement(False)

LISTING = Listing(
    summary="Payment methods (attached by default), the default one first",
    shape=ReadShape(
        "PaymentMethod",
        PAYMENT_METHODS,
        "A payment method: card brand/last4/expiry, SEPA bank/last4, or iDEAL bank/BIC.",
    ),
    status=PaymentMethodStatus,
    paginated=False,
    default_status=PaymentMethodStatus.ATTACHED,
    order=("-is_default", "id"),
)

FAMILY = Family(
    name="payment-methods",
    object_type="payment_method",
    event_types=(
        "payment_method.attached",
        "payment_method.detached",
        "payment_method.updated",
        "payment_method.automatically_updated",
    ),
    parse=parse_payment_method,
    refs=payment_method_refs,
    rank=payment_method_rank,
    transition=payment_method_transition,
    table=PAYMENT_METHODS,
    known=payment_method_known,
    listing=LISTING,
)
