"""customer.tax_id.* events -> tax_ids: a customer's VAT (and other tax) ids and whether
Stripe verified them.

The account answer shows one of them as the account's VAT id (`account_tax_ids`): an
`eu_vat` id first, then another VAT type (`gb_vat`, `ch_vat`, ...), then any other type;
never a deleted one; the newest when several tie. Stripe's verified name and address are
business data the product needs on invoices: they are shown by the read API, but never
put in a notification (`vat_verification_failed` names the tax id, its type and country).

Both API shapes: the object did not change at 2025-03-31; newer payloads also name their
owner (`owner.customer`), which is read when the top-level `customer` is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ColumnElement, Index, Select, String, Table, Text, false, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Family, Incoming, Refs, Row
from domain.mirror.families._read import ReadShape, Related, RelatedSQL
from domain.mirror.notices import Notice
from domain.mirror.ordering import tie_rank
from domain.mirror.statuses import enum_type
from domain.mirror.stripe_json import (
    ApiShape,
    child,
    enum_or_none,
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

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CREATED, UPDATED, DELETED = (f"customer.tax_id.{t}" for t in ("created", "updated", "deleted"))


class TaxIdVerification(StrEnum):
    """Stripe's `verification.status` of a tax id."""

    PENDING = "pending"
    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    UNAVAILABLE = "unavailable"  # Stripe does not verify this type (or not right now)


class TaxIdKind(StrEnum):
    """Notifications of the tax ids family."""

    VAT_VERIFICATION_FAILED = "vat_verification_failed"


@dataclass(frozen=True, slots=True)
class TaxIdView:
    """A tax id; `verification` is None when Stripe sent none or a status we do not know."""

    id: str
    customer_id: str | None
    type: str
    value: str | None
    country: str | None
    verification: TaxIdVerification | None
    verified_name: str | None = field(repr=False)
    verified_address: str | None = field(repr=False)
    deleted: bool
    created: datetime | None
    shape: ApiShape
    raw: dict[str, Any] = field(repr=False)


def tax_id_shape(obj: dict[str, Any], api_version: str | None) -> ApiShape:
    """`owner` / `customer_account` only appear in current payloads; else the version."""
    if isinstance(obj.get("owner"), dict) or "customer_account" in obj:
        return ApiShape.CURRENT
    return shape_from_version(api_version)


def _country(value: Any) -> str | None:
    code = opt_str(value)
    return code.upper() if code and len(code) == 2 else None


def parse_tax_id(obj: dict[str, Any], api_version: str | None = None) -> TaxIdView:
    """Parse a tax_id object in either API shape (also the payload of .deleted)."""
    verification = child(obj, "verification")
    return TaxIdView(
        id=require_id(obj, "tax id"),
        customer_id=ref_id(obj.get("customer")) or ref_id(sub(obj, "owner", "customer")),
        type=opt_str(obj.get("type")) or "unknown",
        value=opt_str(obj.get("value")),
        country=_country(obj.get("country")),
        verification=enum_or_none(TaxIdVerification, verification.get("status")),
        verified_name=opt_str(verification.get("verified_name")),
        verified_address=opt_str(verification.get("verified_address")),
        # A deleted object says `deleted: true`; the event type says it in any case.
        deleted=obj.get("deleted") is True,
        created=ts(obj.get("created")),
        shape=tax_id_shape(obj, api_version),
        raw=obj,
    )


def tax_id_refs(view: TaxIdView, event: EventEnvelope) -> Refs:
    return Refs(view.id, view.customer_id)


def tax_id_deleted(view: TaxIdView, event_type: str) -> bool:
    return event_type == DELETED or view.deleted


# Same-second ties: pending first, a settled status after it (a re-check may move between
# the settled ones; the event id decides those); creation before updates.
VERIFICATION_RANK = {
    None: 0,
    TaxIdVerification.PENDING: 0,
    TaxIdVerification.UNAVAILABLE: 1,
    TaxIdVerification.VERIFIED: 1,
    TaxIdVerification.UNVERIFIED: 1,
}


def tax_id_rank(view: TaxIdView, event_type: str) -> int:
    """Deleted is terminal (Stripe never restores a tax id); pending before settled."""
    return tie_rank(
        terminal=tax_id_deleted(view, event_type),
        status_rank=VERIFICATION_RANK[view.verification],
        progress=0 if event_type == CREATED else 1,
    )


def tax_id_transition(view: TaxIdView, incoming: Incoming[None]) -> Row:
    """The tax id's new row; a deleted one is kept, flagged, so it is never shown again."""
    return {
        "id": view.id,
        "stripe_customer_id": view.customer_id,
        "type": view.type,
        "value": view.value,
        "country": view.country,
        "verification_status": view.verification,
        "verified_name": view.verified_name,
        "verified_address": view.verified_address,
        "deleted": tax_id_deleted(view, incoming.type),
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


def verification_failed(view: TaxIdView, incoming: Incoming[None]) -> bool:
    """The update that moved the verification to `unverified` (from pending, usually)."""
    if incoming.type != UPDATED or view.verification is not TaxIdVerification.UNVERIFIED:
        return False
    before = sub(incoming.previous, "verification", "status")
    return isinstance(before, str) and before != TaxIdVerification.UNVERIFIED


def tax_id_notices(view: TaxIdView, incoming: Incoming[None]) -> list[Notice]:
    """vat_verification_failed: ids, type and country only (never the verified name/address)."""
    if not verification_failed(view, incoming):
        return []
    payload = {"tax_id": view.id, "type": view.type, "country": view.country}
    return [Notice(TaxIdKind.VAT_VERIFICATION_FAILED, payload)]


class TaxId(Stamped, Base):
    """A customer's tax id (deleted ones are kept, flagged) and Stripe's verification."""

    __tablename__ = "tax_ids"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(ID)
    type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(2))
    verification_status: Mapped[TaxIdVerification | None] = mapped_column(
        enum_type(TaxIdVerification, "tax_id_verification", 16)
    )
    # Text: whatever the tax authority returned, never cut (nor refused for its length).
    verified_name: Mapped[str | None] = mapped_column(Text)
    verified_address: Mapped[str | None] = mapped_column(Text)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)

    __table_args__ = (Index("ix_tax_ids_customer_created", "stripe_customer_id", "stripe_created"),)


TAX_IDS: Table = TaxId.__table__  # type: ignore[assignment]

TAX_ID_SHAPE = ReadShape(
    "TaxId",
    TAX_IDS,
    "The account's VAT id as Stripe holds it, and Stripe's verification of it (`null` when"
    " the customer has none): an `eu_vat` id first, then another VAT type, then any other"
    " tax id; never a deleted one; the newest when several qualify. `verified_name` and"
    " `verified_address` are what the tax authority returned for a verified id.",
    hidden=frozenset({"deleted"}),
)


def _preference(row: Any) -> tuple[int, bool, datetime, str]:
    """eu_vat, then another VAT type, then any type; then the newest (undated last), id."""
    vat = 2 if row.type == "eu_vat" else 1 if str(row.type).endswith("_vat") else 0
    created = row.stripe_created
    return vat, created is not None, created or EPOCH, row.id


def choose_tax_id(rows: Sequence[Any]) -> Any | None:
    """The account's VAT id among one customer's tax id rows (see the module docstring)."""
    live = [r for r in rows if not r.deleted]
    return max(live, key=_preference) if live else None


def account_tax_ids(session: Session, accounts: Sequence[Any]) -> Mapping[Any, Any]:
    """{account id: its VAT id's body}, one query for all the shown accounts."""
    by_customer = {a.stripe_customer_id: a.id for a in accounts if a.stripe_customer_id}
    if not by_customer:
        return {}
    found: dict[str, list[Any]] = {}
    stmt = select(TAX_IDS).where(
        TAX_IDS.c.stripe_customer_id.in_(list(by_customer)), TAX_IDS.c.deleted.is_(False)
    )
    for row in session.execute(stmt):
        found.setdefault(row.stripe_customer_id, []).append(row)
    chosen = {cus: choose_tax_id(rows) for cus, rows in found.items()}
    return {
        by_customer[cus]: TAX_ID_SHAPE.shape(row) for cus, row in chosen.items() if row is not None
    }


def _tax_id_queries(customer: ColumnElement[Any]) -> Mapping[str, Select[Any]]:
    live = select(TAX_IDS).where(TAX_IDS.c.stripe_customer_id == customer)
    return {"rows": live.where(TAX_IDS.c.deleted.is_(False))}


def _tax_id_body(found: Mapping[str, Sequence[Any]]) -> Any:
    row = choose_tax_id(found["rows"])
    return TAX_ID_SHAPE.shape(row) if row is not None else None


TAX_ID = Related(
    type=TAX_ID_SHAPE.model | None,
    load=account_tax_ids,
    sql=RelatedSQL(_tax_id_queries, _tax_id_body),
    doc="The account's VAT id and Stripe's verification of it; null when it has none."
    " `customer.vat_number` is the product's own record (customer metadata); this is the id"
    " Stripe holds, verifies and prints on invoices, and wins when the two differ.",
)

FAMILY = Family(
    name="tax-ids",
    object_type="tax_id",
    event_types=(CREATED, UPDATED, DELETED),
    parse=parse_tax_id,
    refs=tax_id_refs,
    rank=tax_id_rank,
    transition=tax_id_transition,
    table=TAX_IDS,
    notices=tax_id_notices,
    kinds=tuple(TaxIdKind),
    adds={"account": {"tax_id": TAX_ID}},
)
