"""charge.dispute.* events -> `disputes`; dispute_opened and dispute_closed.

A dispute names its charge (and, in newer API versions, its payment intent) but never a
customer: its account is found through them at read time (`owners.py`), so a dispute
mirrored before its charge is listed once the charge is. The object is the same in both
API shapes for what the mirror keeps.

Notifications are per event: `dispute_opened` for charge.dispute.created (act before
`evidence_due_by`), `dispute_closed` for charge.dispute.closed with the outcome (`won`,
`lost`, `warning_closed` for an inquiry, `prevented`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Incoming, Known, Refs, Row
from domain.mirror.families._read import Listing, ReadShape, Related
from domain.mirror.families.payments.owners import customer_of, payment_ids, rows_of_customer
from domain.mirror.families.payments.shapes import NAME_LENGTH, STATUS_LENGTH, short
from domain.mirror.families.payments.tables import DISPUTES, DisputeStatus
from domain.mirror.notices import Notice, iso
from domain.mirror.ordering import tie_rank
from domain.mirror.store import current_stamp
from domain.mirror.stripe_json import (
    ViewError,
    child,
    currency,
    list_data,
    opt_int,
    ref_id,
    require_id,
    ts,
)
from domain.mirror.tables import stamp_columns
from domain.mirror.unit import Unit


@dataclass(frozen=True, slots=True)
class DisputeView:
    """A dispute; `funds_movements` counts its balance transactions (withdrawn, reinstated)."""

    id: str
    charge_id: str | None
    payment_intent_id: str | None
    status: str
    reason: str | None
    amount: int
    currency: str
    evidence_due_by: datetime | None
    evidence_submission_count: int
    is_charge_refundable: bool
    funds_movements: int
    created: datetime | None
    raw: dict[str, Any] = field(repr=False)


def parse_dispute(obj: dict[str, Any], api_version: str | None = None) -> DisputeView:
    """Parse a dispute object (either API shape)."""
    code = currency(obj.get("currency"))
    if code is None:
        raise ViewError("dispute without a currency")
    evidence = child(obj, "evidence_details")
    return DisputeView(
        id=require_id(obj, "dispute"),
        charge_id=ref_id(obj.get("charge")),
        payment_intent_id=ref_id(obj.get("payment_intent")),
        status=short(obj.get("status"), STATUS_LENGTH) or DisputeStatus.NEEDS_RESPONSE,
        reason=short(obj.get("reason"), NAME_LENGTH),
        amount=opt_int(obj.get("amount")) or 0,
        currency=code,
        evidence_due_by=ts(evidence.get("due_by")),
        evidence_submission_count=opt_int(evidence.get("submission_count")) or 0,
        is_charge_refundable=obj.get("is_charge_refundable") is True,
        funds_movements=len(list_data(obj.get("balance_transactions"))),
        created=ts(obj.get("created")),
        raw=obj,
    )


def dispute_refs(view: DisputeView, event: EventEnvelope) -> Refs:
    return Refs(view.id)  # no customer: it is found through the charge (see `known`)


# Inquiries (warning_*) come first and may become disputes; Stripe never reopens a closed
# one. `charge_refunded` is the closing status of old API versions.
DISPUTE_RANK: dict[str, int] = {
    DisputeStatus.WARNING_NEEDS_RESPONSE: 0,
    DisputeStatus.WARNING_UNDER_REVIEW: 1,
    DisputeStatus.NEEDS_RESPONSE: 2,
    DisputeStatus.UNDER_REVIEW: 3,
}
DISPUTE_TERMINAL = frozenset(
    {
        DisputeStatus.WON,
        DisputeStatus.LOST,
        DisputeStatus.WARNING_CLOSED,
        DisputeStatus.PREVENTED,
        DisputeStatus.CHARGE_REFUNDED,
    }
)


def dispute_rank(view: DisputeView, event_type: str) -> int:
    """Closed statuses are terminal; then the lifecycle; then funds moved and evidence sent
    (funds_withdrawn / _reinstated add a balance transaction, a submission counts)."""
    return tie_rank(
        terminal=view.status in DISPUTE_TERMINAL,
        status_rank=DISPUTE_RANK.get(view.status, 0),
        progress=view.funds_movements * 100 + min(view.evidence_submission_count, 99),
    )


def dispute_transition(view: DisputeView, incoming: Incoming[str | None]) -> Row:
    """The dispute's new row."""
    return {
        "id": view.id,
        "charge_id": view.charge_id,
        "payment_intent_id": view.payment_intent_id,
        "status": view.status,
        "reason": view.reason,
        "amount": view.amount,
        "currency": view.currency,
        "evidence_due_by": view.evidence_due_by,
        "evidence_submission_count": view.evidence_submission_count,
        "is_charge_refundable": view.is_charge_refundable,
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


def dispute_known(unit: Unit, view: DisputeView, refs: Refs, now: datetime) -> Known[str | None]:
    """The row's stamp, and the customer of its charge (or intent) if mirrored: for notices."""
    customer = customer_of(unit, view.charge_id, view.payment_intent_id)
    return Known(current_stamp(unit, DISPUTES, view.id), customer)


class DisputeKind(StrEnum):
    """Notifications about disputes."""

    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_CLOSED = "dispute_closed"


DISPUTE_KINDS = {
    "charge.dispute.created": DisputeKind.DISPUTE_OPENED,
    "charge.dispute.closed": DisputeKind.DISPUTE_CLOSED,
}


def dispute_notices(view: DisputeView, incoming: Incoming[str | None]) -> list[Notice]:
    """dispute_opened / dispute_closed (with the outcome in `status`)."""
    kind = DISPUTE_KINDS.get(incoming.type)
    if kind is None:
        return []
    payload = {
        "dispute_id": view.id,
        "charge_id": view.charge_id,
        "payment_intent_id": view.payment_intent_id,
        "status": view.status,
        "reason": view.reason,
        "amount": view.amount,
        "currency": view.currency,
        "evidence_due_by": iso(view.evidence_due_by),
    }
    return [Notice(kind, payload, customer_id=incoming.facts)]


LISTING = Listing(
    summary="Disputes, newest first",
    shape=ReadShape(
        "Dispute",
        DISPUTES,
        "A dispute (chargeback, or an inquiry: `warning_*`) of one of the account's"
        " payments; amounts in minor units of `currency`. Respond before `evidence_due_by`.",
        money={"amount": "currency"},
        related={
            "payment_id": Related(
                str | None,
                payment_ids,
                doc="the payment disputed (its payment intent, or the charge made without one)",
            )
        },
    ),
    status=DisputeStatus,
    owner=rows_of_customer(DISPUTES),
)

EVENT_TYPES = (
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
)
