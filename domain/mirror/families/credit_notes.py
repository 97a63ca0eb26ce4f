"""credit_note.* events -> credit_notes; each invoice row shows its credited amount.

Both API shapes: since 2025-03-31 a credit note lists its `refunds` (`amount_refunded` per
refund) instead of naming one `refund` id, and its tax totals are `total_taxes` instead of
`tax_amounts`. Before, the amount refunded is not on the credit note (only the refund's
id): it is then unknown (null), not zero.

The credit note's `memo` (free text that may name the customer) is not mirrored; it stays
in `raw` only. The invoice view's `amount_credited` is read from these rows at read time
(`Family.adds`), never written into the invoice's row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Index, String, Table, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Family, Incoming, Refs, Row
from domain.mirror.families._read import Listing, ReadShape, Related
from domain.mirror.ordering import tie_rank
from domain.mirror.statuses import enum_type
from domain.mirror.stripe_json import (
    ApiShape,
    ViewError,
    currency,
    list_data,
    opt_int,
    opt_str,
    ref_id,
    require_id,
    shape_from_version,
    ts,
)
from domain.mirror.tables import ID, Stamped, stamp_columns
from domain.models import Base
from domain.types import JSONType, UTCDateTime


class CreditNoteStatus(StrEnum):
    """Stripe's credit note statuses: in force, or voided (final)."""

    ISSUED = "issued"
    VOID = "void"


@dataclass(frozen=True, slots=True)
class CreditNoteView:
    """A credit note of an invoice; amounts in minor units of `currency`."""

    id: str
    customer_id: str | None
    invoice_id: str | None
    number: str | None
    status: CreditNoteStatus
    type: str | None
    reason: str | None
    currency: str
    amount: int
    subtotal: int | None
    total: int
    tax: int | None
    pre_payment_amount: int | None
    post_payment_amount: int | None
    out_of_band_amount: int | None
    amount_refunded: int | None
    pdf: str | None
    effective_at: datetime | None
    voided_at: datetime | None
    created: datetime | None
    shape: ApiShape
    raw: dict[str, Any] = field(repr=False)


def credit_note_shape(obj: dict[str, Any], api_version: str | None) -> ApiShape:
    """A `refunds` list means current; a `refund` key without it means pre-2025."""
    if isinstance(obj.get("refunds"), list):
        return ApiShape.CURRENT
    if "refund" in obj and "refunds" not in obj:
        return ApiShape.LEGACY
    return shape_from_version(api_version)


def _sum(entries: Any, key: str) -> int:
    amounts = (opt_int(e.get(key)) for e in list_data(entries))
    return sum(a for a in amounts if a is not None)


def credit_note_status(obj: dict[str, Any]) -> CreditNoteStatus:
    """Stripe's status; one Stripe may add later counts as void only once it was voided."""
    try:
        return CreditNoteStatus(str(obj.get("status")))
    except ValueError:
        voided = obj.get("voided_at") is not None
        return CreditNoteStatus.VOID if voided else CreditNoteStatus.ISSUED


def parse_credit_note(obj: dict[str, Any], api_version: str | None = None) -> CreditNoteView:
    """Parse a credit_note object in either API shape."""
    shape = credit_note_shape(obj, api_version)
    code = currency(obj.get("currency"))
    if code is None:
        raise ViewError("credit note without a currency")
    amount = opt_int(obj.get("amount")) or 0
    total = opt_int(obj.get("total"))
    if shape is ApiShape.CURRENT:
        refunded: int | None = _sum(obj.get("refunds"), "amount_refunded")
        taxes = obj.get("total_taxes")
    else:
        refund = obj.get("refund")
        refunded = opt_int(refund.get("amount")) if isinstance(refund, dict) else None
        taxes = obj.get("tax_amounts")
    return CreditNoteView(
        id=require_id(obj, "credit note"),
        customer_id=ref_id(obj.get("customer")),
        invoice_id=ref_id(obj.get("invoice")),
        number=opt_str(obj.get("number")),
        status=credit_note_status(obj),
        type=opt_str(obj.get("type")),
        reason=opt_str(obj.get("reason")),
        currency=code,
        amount=amount,
        subtotal=opt_int(obj.get("subtotal")),
        total=amount if total is None else total,
        tax=_sum(taxes, "amount") if isinstance(taxes, list) else None,
        pre_payment_amount=opt_int(obj.get("pre_payment_amount")),
        post_payment_amount=opt_int(obj.get("post_payment_amount")),
        out_of_band_amount=opt_int(obj.get("out_of_band_amount")),
        amount_refunded=refunded,
        pdf=opt_str(obj.get("pdf")),
        effective_at=ts(obj.get("effective_at")),
        voided_at=ts(obj.get("voided_at")),
        created=ts(obj.get("created")),
        shape=shape,
        raw=obj,
    )


def credit_note_refs(view: CreditNoteView, event: EventEnvelope) -> Refs:
    return Refs(view.id, view.customer_id)


# Same-second ties: a void credit note stays void (Stripe never re-issues one); among the
# events of one status, created < updated < voided.
EVENT_PROGRESS = {"credit_note.created": 0, "credit_note.updated": 1, "credit_note.voided": 2}


def credit_note_rank(view: CreditNoteView, event_type: str) -> int:
    void = view.status is CreditNoteStatus.VOID
    return tie_rank(
        terminal=void, status_rank=int(void), progress=EVENT_PROGRESS.get(event_type, 1)
    )


def credit_note_transition(view: CreditNoteView, incoming: Incoming[None]) -> Row:
    """The credit note's new row."""
    return {
        "id": view.id,
        "stripe_customer_id": view.customer_id,
        "invoice_id": view.invoice_id,
        "number": view.number,
        "status": view.status,
        "type": view.type,
        "reason": view.reason,
        "currency": view.currency,
        "amount": view.amount,
        "subtotal": view.subtotal,
        "total": view.total,
        "tax": view.tax,
        "pre_payment_amount": view.pre_payment_amount,
        "post_payment_amount": view.post_payment_amount,
        "out_of_band_amount": view.out_of_band_amount,
        "amount_refunded": view.amount_refunded,
        "pdf": view.pdf,
        "effective_at": view.effective_at,
        "voided_at": view.voided_at,
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


class CreditNote(Stamped, Base):
    """A Stripe credit note (the memo is not mirrored: free text, maybe personal)."""

    __tablename__ = "credit_notes"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(ID)
    invoice_id: Mapped[str | None] = mapped_column(ID, index=True)
    number: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[CreditNoteStatus] = mapped_column(
        enum_type(CreditNoteStatus, "credit_note_status", 16)
    )
    type: Mapped[str | None] = mapped_column(String(32))  # pre_payment, post_payment, mixed
    reason: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    subtotal: Mapped[int | None] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    tax: Mapped[int | None] = mapped_column(BigInteger)
    pre_payment_amount: Mapped[int | None] = mapped_column(BigInteger)
    post_payment_amount: Mapped[int | None] = mapped_column(BigInteger)
    out_of_band_amount: Mapped[int | None] = mapped_column(BigInteger)
    amount_refunded: Mapped[int | None] = mapped_column(BigInteger)  # null: unknown (pre-2025)
    pdf: Mapped[str | None] = mapped_column(Text)
    effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)

    __table_args__ = (
        Index("ix_credit_notes_customer_created", "stripe_customer_id", "stripe_created"),
    )


CREDIT_NOTES: Table = CreditNote.__table__  # type: ignore[assignment]


def amount_credited(session: Session, invoices: Sequence[Any]) -> Mapping[str, int]:
    """Per shown invoice, the total of its credit notes in force (void ones do not count),
    in the invoice's currency (a credit note has its invoice's): one query for all rows."""
    ids = sorted({row.id for row in invoices})
    c = CREDIT_NOTES.c
    found = session.execute(
        select(c.invoice_id, func.sum(c.total))
        .where(c.invoice_id.in_(ids), c.status != CreditNoteStatus.VOID.value)
        .group_by(c.invoice_id)
    )
    return {invoice_id: int(total) for invoice_id, total in found}


AMOUNT_CREDITED = Related(
    type=int,
    load=amount_credited,
    default=lambda: 0,
    doc="the total of the invoice's credit notes that are not void, in minor units of `currency`",
)

LISTING = Listing(
    summary="Credit notes, newest first",
    shape=ReadShape(
        "CreditNote",
        CREDIT_NOTES,
        "A credit note of one of the account's invoices; amounts in minor units of `currency`;"
        " `amount_refunded` is null when Stripe did not say (pre-2025 API versions).",
    ),
    status=CreditNoteStatus,
)

FAMILY = Family(
    name="credit-notes",
    object_type="credit_note",
    event_types=("credit_note.created", "credit_note.updated", "credit_note.voided"),
    parse=parse_credit_note,
    refs=credit_note_refs,
    rank=credit_note_rank,
    transition=credit_note_transition,
    table=CREDIT_NOTES,
    listing=LISTING,
    adds={"invoices": {"amount_credited": AMOUNT_CREDITED}},
)
