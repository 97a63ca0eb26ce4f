"""billing.credit_grant.created / .updated -> credit_grants (Stripe Billing credit grants).

A credit grant is a monetary credit Stripe applies to a customer's invoices (usually to
metered prices: `applicability_config.scope`). Stripe sends `created` when it is made and
`updated` when its name, expiry or metadata change, or when it is voided (`voided_at`). A
voided grant never comes back, so `voided` is terminal; within one second an `updated`
is newer content than the `created`. Expiry is a date (`expires_at`), not an event: the
row keeps it and a reader compares it with the clock.

The amount is `amount.monetary {currency, value}` (`amount.type = "monetary"`); a type
Stripe adds later (custom pricing units) is mirrored without an amount. Both API shapes:
before 2025 the scope is `price_type` only; since then it may list `prices` instead.

Credits for the product's gate: when the grant's `metadata.credits` is a positive integer
and its customer is linked to an account, the write also appends a ledger `grant` entry
`stripe_grant:<grant id>` (source `stripe_grant`); a voided grant then takes back what is
unspent with one `adjust` entry `stripe_grant:<grant id>:void` (docs/credits.md, "Stripe
credit grants"). Both are idempotent by their ids, and follow the row as written (the
newest state), so replays and reordering grant once. A grant seen before its customer's
account link gives its credits at the link (domain.credits.grants.grant_for_customer_grants).
A newer `metadata.credits` adjusts the ledger by the difference
(`stripe_grant:<grant id>:credits:<event created>:<event id>`), and the expiry step reads
the row's `expires_at`, so a moved expiry moves what is left.

The read API lists them per account (`GET /v1/accounts/{account_ref}/credit-grants`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from domain.credits.grants import apply_stripe_grant, grant_credits, grant_stamp
from domain.credits.period import grant_batch_dues
from domain.envelope import EventEnvelope
from domain.mirror.families._family import Family, Incoming, Refs, Row
from domain.mirror.families._read import Listing, ReadShape
from domain.mirror.ordering import tie_rank
from domain.mirror.store import upsert_stamped
from domain.mirror.stripe_json import child, currency, opt_int, opt_str, ref_id, require_id, ts
from domain.mirror.tables import ID, Stamped, stamp_columns
from domain.mirror.unit import Unit
from domain.models import Base
from domain.types import JSONType, UTCDateTime

CREATED, UPDATED = "billing.credit_grant.created", "billing.credit_grant.updated"
# Same-second order of the events: an update is newer content than the creation.
EVENT_PROGRESS = {CREATED: 0, UPDATED: 1}


class CreditGrantStatus(StrEnum):
    """`voided` once Stripe voided the grant (final); `active` otherwise (it may have expired:
    compare `expires_at`)."""

    ACTIVE = "active"
    VOIDED = "voided"


@dataclass(frozen=True, slots=True)
class CreditGrantView:
    """A credit grant: whose, how much, on what it applies, when it is effective and ends."""

    id: str
    customer_id: str | None
    name: str | None
    category: str | None  # paid / promotional
    amount_type: str | None  # monetary (a type Stripe adds later is kept as sent)
    amount: int | None  # minor units, for a monetary amount
    currency: str | None
    price_type: str | None  # applicability_config.scope.price_type (metered)
    price_ids: tuple[str, ...]  # applicability_config.scope.prices (current shape)
    priority: int | None
    effective_at: datetime | None
    expires_at: datetime | None
    voided_at: datetime | None
    created: datetime | None
    credits: int | None  # metadata.credits: product credits for the ledger, when positive
    raw: dict[str, Any] = field(repr=False)

    @property
    def status(self) -> CreditGrantStatus:
        return CreditGrantStatus.VOIDED if self.voided_at else CreditGrantStatus.ACTIVE


def _short(value: Any, length: int) -> str | None:
    text = opt_str(value)
    return text[:length] if text else None


def parse_credit_grant(obj: dict[str, Any], api_version: str | None = None) -> CreditGrantView:
    """Parse a credit grant (both shapes; `customer` may be expanded)."""
    amount = child(obj, "amount")
    monetary = child(amount, "monetary")
    scope = child(child(obj, "applicability_config"), "scope")
    prices = scope.get("prices")
    price_ids = tuple(
        pid for pid in (ref_id(p) for p in (prices if isinstance(prices, list) else [])) if pid
    )
    value = monetary.get("value")
    return CreditGrantView(
        id=require_id(obj, "credit grant"),
        customer_id=ref_id(obj.get("customer")),
        name=_short(obj.get("name"), 255),
        category=_short(obj.get("category"), 32),
        amount_type=_short(amount.get("type"), 32) or ("monetary" if monetary else None),
        amount=value if isinstance(value, int) and not isinstance(value, bool) else None,
        currency=currency(monetary.get("currency")),
        price_type=_short(scope.get("price_type"), 32),
        price_ids=price_ids,
        priority=opt_int(obj.get("priority")),
        effective_at=ts(obj.get("effective_at")),
        expires_at=ts(obj.get("expires_at")),
        voided_at=ts(obj.get("voided_at")),
        created=ts(obj.get("created")),
        credits=grant_credits(obj.get("metadata")),
        raw=obj,
    )


def credit_grant_refs(view: CreditGrantView, event: EventEnvelope) -> Refs:
    return Refs(view.id, view.customer_id)


def credit_grant_rank(view: CreditGrantView, event_type: str) -> int:
    """voided is terminal; an update outranks the creation of the same second."""
    return tie_rank(
        terminal=view.voided_at is not None,
        status_rank=0,
        progress=EVENT_PROGRESS.get(event_type, 0),
    )


def credit_grant_transition(view: CreditGrantView, incoming: Incoming[None]) -> Row:
    return {
        "id": view.id,
        "stripe_customer_id": view.customer_id,
        "name": view.name,
        "status": view.status.value,
        "category": view.category,
        "amount_type": view.amount_type,
        "amount": view.amount,
        "currency": view.currency,
        "price_type": view.price_type,
        "price_ids": list(view.price_ids),
        "priority": view.priority,
        "effective_at": view.effective_at,
        "expires_at": view.expires_at,
        "voided_at": view.voided_at,
        "credits": view.credits,
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


def write_credit_grant(unit: Unit, row: Row, now: datetime) -> None:
    """Upsert the grant, then follow it on the credit ledger (only with `metadata.credits`)."""
    upsert_stamped(unit, CREDIT_GRANTS, row, now)
    if row["credits"] is not None:
        grant_batch_dues(unit, now)  # the ledger sees the batch's writes in event order
        apply_stripe_grant(
            unit.session,
            grant_id=row["id"],
            customer_id=row["stripe_customer_id"],
            credits=row["credits"],
            voided=row["voided_at"] is not None,
            expires_at=row["expires_at"],
            stamp=grant_stamp(row["last_event_created"], row["last_event_id"]),
            now=now,
        )


class CreditGrant(Stamped, Base):
    """A Stripe Billing credit grant of a customer (money Stripe applies to its invoices)."""

    __tablename__ = "credit_grants"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(ID, index=True)
    name: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # CreditGrantStatus
    category: Mapped[str | None] = mapped_column(String(32))
    amount_type: Mapped[str | None] = mapped_column(String(32))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    price_type: Mapped[str | None] = mapped_column(String(32))
    price_ids: Mapped[list[str]] = mapped_column(JSONType)
    priority: Mapped[int | None] = mapped_column(Integer)
    effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    credits: Mapped[int | None] = mapped_column(BigInteger)  # metadata.credits, if any
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


CREDIT_GRANTS: Table = CreditGrant.__table__  # type: ignore[assignment]

LISTING = Listing(
    summary="Stripe Billing credit grants, newest first",
    shape=ReadShape(
        "CreditGrant",
        CREDIT_GRANTS,
        "A Stripe Billing credit grant: the money Stripe applies to the customer's invoices"
        " (its scope: price_type / price_ids), when it is effective and expires, whether it"
        " was voided, and the product credits it gave (`credits`, from metadata.credits).",
        money={"amount": "currency"},
    ),
    status=CreditGrantStatus,
)

FAMILY = Family(
    name="credit-grants",
    object_type="billing.credit_grant",
    event_types=(CREATED, UPDATED),
    parse=parse_credit_grant,
    refs=credit_grant_refs,
    rank=credit_grant_rank,
    transition=credit_grant_transition,
    table=CREDIT_GRANTS,
    write=write_credit_grant,
    listing=LISTING,
)
