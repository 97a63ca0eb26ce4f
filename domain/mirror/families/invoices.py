"""invoice.* events -> invoices (invoice.upcoming is a preview: it never creates a row).

Both API shapes: pre-2025 invoices name their subscription at the top level, current ones
under `parent.subscription_details`; their tax totals are `total_tax_amounts` before
2025-03-31 and `total_taxes` since (the removed `charge`, `payment_intent` and `paid` are
not read in either shape: the status says whether it is paid).

A deleted draft (`invoice.deleted`, whose object may say `status: "deleted"` or be just
`{"id", "object", "deleted": true}`) keeps its row as a tombstone with status `deleted`:
terminal, so no older or same-second event brings the draft back, and never listed by the
read API (`Listing.never_listed`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Family, Incoming, Refs, Row
from domain.mirror.families._read import Listing, ReadShape
from domain.mirror.notices import Notice, iso
from domain.mirror.ordering import tie_rank
from domain.mirror.statuses import InvoiceStatus, NotificationKind, enum_type
from domain.mirror.stripe_json import (
    ApiShape,
    ViewError,
    child,
    currency,
    list_data,
    opt_int,
    opt_str,
    ref_id,
    shape_from_version,
    sub,
    ts,
)
from domain.mirror.tables import ID, Stamped, stamp_columns
from domain.models import Base
from domain.types import JSONType, UTCDateTime


@dataclass(frozen=True, slots=True)
class InvoiceView:
    """An invoice; `id` is None only for `invoice.upcoming` previews."""

    id: str | None
    customer_id: str | None
    subscription_id: str | None
    number: str | None
    status: InvoiceStatus
    currency: str
    amount_due: int
    amount_paid: int
    amount_remaining: int
    subtotal: int | None
    total: int | None
    tax: int | None
    billing_reason: str | None
    hosted_invoice_url: str | None
    invoice_pdf: str | None
    paid_at: datetime | None
    attempt_count: int
    next_payment_attempt: datetime | None
    period_start: datetime | None
    period_end: datetime | None
    due_date: datetime | None
    finalization_error_code: str | None
    finalization_error_message: str | None
    created: datetime | None
    shape: ApiShape
    raw: dict[str, Any] = field(repr=False)


def invoice_shape(obj: dict[str, Any], api_version: str | None) -> ApiShape:
    """`parent` means current; a top-level `subscription` without it means pre-2025."""
    if isinstance(obj.get("parent"), dict):
        return ApiShape.CURRENT
    if "subscription" in obj and "parent" not in obj:
        return ApiShape.LEGACY
    return shape_from_version(api_version)


def invoice_tax(obj: dict[str, Any]) -> int | None:
    """The invoice's total tax: `total_taxes` (current), `total_tax_amounts` (pre-2025) or the
    oldest shapes' `tax`; None when the payload says nothing about tax."""
    for name in ("total_taxes", "total_tax_amounts"):
        if isinstance(obj.get(name), list):
            amounts = [opt_int(t.get("amount")) for t in list_data(obj[name])]
            return sum(a for a in amounts if a is not None)
    return opt_int(obj.get("tax"))


# A status Stripe may add is read from the invoice's own transitions, latest state first.
TRANSITIONS = (
    ("voided_at", InvoiceStatus.VOID),
    ("paid_at", InvoiceStatus.PAID),
    ("marked_uncollectible_at", InvoiceStatus.UNCOLLECTIBLE),
    ("finalized_at", InvoiceStatus.OPEN),
)


def status_of(obj: dict[str, Any]) -> InvoiceStatus:
    """Stripe's status (none: a draft); one this code does not know yet (Stripe may add
    some) is the state `status_transitions` shows, so the event is mirrored, not dead."""
    value = obj.get("status")
    if value is None:
        return InvoiceStatus.DRAFT
    try:
        return InvoiceStatus(str(value))
    except ValueError:
        pass
    for name, status in TRANSITIONS:
        if sub(obj, "status_transitions", name) is not None:
            return status
    return InvoiceStatus.DRAFT


def parse_invoice(obj: dict[str, Any], api_version: str | None = None) -> InvoiceView:
    """Parse an invoice object in either API shape."""
    shape = invoice_shape(obj, api_version)
    if shape is ApiShape.CURRENT:
        subscription_id = ref_id(sub(obj, "parent", "subscription_details", "subscription"))
        subscription_id = subscription_id or ref_id(obj.get("subscription"))
    else:
        subscription_id = ref_id(obj.get("subscription"))
    deleted = obj.get("deleted") is True or obj.get("status") == InvoiceStatus.DELETED
    status = InvoiceStatus.DELETED if deleted else status_of(obj)
    code = currency(obj.get("currency"))
    if code is None and deleted:
        code = ""  # a deletion stub names only the invoice: its tombstone has no amounts
    if code is None:
        raise ViewError("invoice without a currency")
    error = child(obj, "last_finalization_error")
    return InvoiceView(
        id=opt_str(obj.get("id")),
        customer_id=ref_id(obj.get("customer")),
        subscription_id=subscription_id,
        number=opt_str(obj.get("number")),
        status=status,
        currency=code,
        amount_due=opt_int(obj.get("amount_due")) or 0,
        amount_paid=opt_int(obj.get("amount_paid")) or 0,
        amount_remaining=opt_int(obj.get("amount_remaining")) or 0,
        subtotal=opt_int(obj.get("subtotal")),
        total=opt_int(obj.get("total")),
        tax=invoice_tax(obj),
        billing_reason=opt_str(obj.get("billing_reason")),
        hosted_invoice_url=opt_str(obj.get("hosted_invoice_url")),
        invoice_pdf=opt_str(obj.get("invoice_pdf")),
        paid_at=ts(sub(obj, "status_transitions", "paid_at")),
        attempt_count=opt_int(obj.get("attempt_count")) or 0,
        next_payment_attempt=ts(obj.get("next_payment_attempt")),
        period_start=ts(obj.get("period_start")),
        period_end=ts(obj.get("period_end")),
        due_date=ts(obj.get("due_date")),
        finalization_error_code=opt_str(error.get("code")) or opt_str(error.get("type")),
        finalization_error_message=opt_str(error.get("message")),
        created=ts(obj.get("created")),
        shape=shape,
        raw=obj,
    )


def invoice_refs(view: InvoiceView, event: EventEnvelope) -> Refs:
    return Refs(view.id, view.customer_id)


# Lifecycle positions for same-second ties (see domain.mirror.ordering).
INVOICE_RANK = {
    InvoiceStatus.DRAFT: 0,
    InvoiceStatus.OPEN: 1,
    InvoiceStatus.UNCOLLECTIBLE: 2,
    InvoiceStatus.PAID: 3,
    InvoiceStatus.VOID: 4,
    InvoiceStatus.DELETED: 5,
}
# Stripe never reopens a paid or voided invoice, nor brings back a deleted draft
# (uncollectible can still be paid).
INVOICE_TERMINAL = frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.DELETED})


def invoice_status(view: InvoiceView, event_type: str) -> InvoiceStatus:
    """The status an event gives the invoice: `invoice.deleted` deletes it, whatever its
    object still says (Stripe sends the draft as it was, or with `status: "deleted"`)."""
    return InvoiceStatus.DELETED if event_type == "invoice.deleted" else view.status


def invoice_rank(view: InvoiceView, event_type: str) -> int:
    """Terminal status, lifecycle position, then the attempt count and, within one attempt,
    any event after `invoice.created` (an update of the same second is the newer content)."""
    status = invoice_status(view, event_type)
    return tie_rank(
        terminal=status in INVOICE_TERMINAL,
        status_rank=INVOICE_RANK[status],
        progress=view.attempt_count * 2 + (event_type != "invoice.created"),
    )


def invoice_transition(view: InvoiceView, incoming: Incoming[None]) -> Row | None:
    """The invoice's new row (never called for id-less upcoming previews)."""
    if view.id is None:
        return None
    return {
        "id": view.id,
        "stripe_customer_id": view.customer_id,
        "subscription_id": view.subscription_id,
        "number": view.number,
        "status": invoice_status(view, incoming.type),
        "currency": view.currency,
        "amount_due": view.amount_due,
        "amount_paid": view.amount_paid,
        "amount_remaining": view.amount_remaining,
        "subtotal": view.subtotal,
        "total": view.total,
        "tax": view.tax,
        "billing_reason": view.billing_reason,
        "hosted_invoice_url": view.hosted_invoice_url,
        "invoice_pdf": view.invoice_pdf,
        "paid_at": view.paid_at,
        "attempt_count": view.attempt_count,
        "next_payment_attempt": view.next_payment_attempt,
        "period_start": view.period_start,
        "period_end": view.period_end,
        "due_date": view.due_date,
        "finalization_error_code": view.finalization_error_code,
        "finalization_error_message": view.finalization_error_message,
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


class InvoiceKind(StrEnum):
    """The invoice notifications added with the complete invoice family."""

    # Past its due date and still unpaid: the product's dunning (a reminder, access).
    OVERDUE = "overdue"
    # Stripe could not finalize the draft (e.g. an invalid tax location), so it is neither
    # sent nor charged until someone fixes it, and Stripe tells the customer nothing.
    FINALIZATION_FAILED = "invoice_finalization_failed"


PAYMENT_KINDS = {
    "invoice.payment_failed": NotificationKind.PAYMENT_FAILED,
    "invoice.payment_action_required": NotificationKind.PAYMENT_ACTION_REQUIRED,
}
INVOICE_KINDS: dict[str, StrEnum] = {
    **PAYMENT_KINDS,
    "invoice.overdue": InvoiceKind.OVERDUE,
    "invoice.finalization_failed": InvoiceKind.FINALIZATION_FAILED,
}


def invoice_notices(view: InvoiceView, incoming: Incoming[None]) -> list[Notice]:
    """Payment failed / action required, overdue, finalization failed, from one event.

    Payloads carry ids, amounts, dates and Stripe's hosted page, never the customer's
    details (the invoice object holds its e-mail, name and address) nor Stripe's
    free-text error message.
    """
    kind = INVOICE_KINDS.get(incoming.type)
    if kind is None or view.id is None:
        return []
    if kind is InvoiceKind.OVERDUE:
        overdue = {
            "invoice_id": view.id,
            "subscription_id": view.subscription_id,
            "amount_due": view.amount_due,
            "amount_remaining": view.amount_remaining,
            "currency": view.currency,
            "due_date": iso(view.due_date),
            "hosted_invoice_url": view.hosted_invoice_url,
        }
        return [Notice(kind, overdue)]
    if kind is InvoiceKind.FINALIZATION_FAILED:
        failed = {
            "invoice_id": view.id,
            "subscription_id": view.subscription_id,
            "error_code": view.finalization_error_code,
        }
        return [Notice(kind, failed)]
    payload = {
        "invoice_id": view.id,
        "subscription_id": view.subscription_id,
        "amount_due": view.amount_due,
        "currency": view.currency,
        "attempt_count": view.attempt_count,
        "next_payment_attempt": iso(view.next_payment_attempt),
        "hosted_invoice_url": view.hosted_invoice_url,
    }
    return [Notice(kind, payload)]


class Invoice(Stamped, Base):
    """A Stripe invoice (never created from `invoice.upcoming`, which has no id); a deleted
    draft stays as a `deleted` tombstone."""

    __tablename__ = "invoices"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(ID)
    subscription_id: Mapped[str | None] = mapped_column(ID, index=True)
    number: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[InvoiceStatus] = mapped_column(enum_type(InvoiceStatus, "invoice_status", 16))
    currency: Mapped[str] = mapped_column(String(3))
    amount_due: Mapped[int] = mapped_column(BigInteger)
    amount_paid: Mapped[int] = mapped_column(BigInteger)
    amount_remaining: Mapped[int] = mapped_column(BigInteger)
    subtotal: Mapped[int | None] = mapped_column(BigInteger)
    total: Mapped[int | None] = mapped_column(BigInteger)
    tax: Mapped[int | None] = mapped_column(BigInteger)
    billing_reason: Mapped[str | None] = mapped_column(String(64))
    hosted_invoice_url: Mapped[str | None] = mapped_column(Text)
    invoice_pdf: Mapped[str | None] = mapped_column(Text)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempt_count: Mapped[int] = mapped_column(Integer)
    next_payment_attempt: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    due_date: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Stripe's last_finalization_error: its code (else its type) and message; null once the
    # invoice finalizes (Stripe clears it).
    finalization_error_code: Mapped[str | None] = mapped_column(String(255))
    finalization_error_message: Mapped[str | None] = mapped_column(Text)
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)

    __table_args__ = (
        Index("ix_invoices_customer_created", "stripe_customer_id", "stripe_created"),
    )


INVOICES: Table = Invoice.__table__  # type: ignore[assignment]
LISTING = Listing(
    summary="Invoices, newest first",
    shape=ReadShape(
        "Invoice", INVOICES, "An invoice of the account; amounts in minor units of `currency`."
    ),
    status=InvoiceStatus,
    never_listed=frozenset({InvoiceStatus.DELETED}),  # deleted drafts disappear
)

FAMILY = Family(
    name="invoices",
    object_type="invoice",
    event_types=(
        "invoice.created",
        "invoice.updated",
        "invoice.deleted",
        "invoice.finalized",
        "invoice.finalization_failed",
        "invoice.paid",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
        "invoice.payment_action_required",
        "invoice.voided",
        "invoice.marked_uncollectible",
        "invoice.overdue",
        "invoice.will_be_due",
        "invoice.upcoming",
    ),
    parse=parse_invoice,
    refs=invoice_refs,
    rank=invoice_rank,
    transition=invoice_transition,
    table=INVOICES,
    notices=invoice_notices,
    kinds=tuple(INVOICE_KINDS.values()),
    listing=LISTING,
)
