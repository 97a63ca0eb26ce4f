"""refund.* and charge.refund.updated events -> `refunds`; refund_issued / refund_failed.

A refund names its charge (and, in newer API versions, its payment intent and customer).
Its account is found through them at read time (see `owners.py`). charge.refunded is the
charges family's (its object is the charge), which also writes the refunds a charge embeds
in API versions before 2022-11-15, with `embedded_refund_rows`.

Notifications, once per refund in each API generation (they are per event and kind, and
a pure function of the event, so the rule picks the one event that reports the change):
before 2024-10-28 ("acacia") Stripe sent refund.* events only for refunds without a charge
and reported a charge's refund updates with charge.refund.updated; from then on refund.*
covers every refund, and charge.refund.updated (still sent for some methods) repeats
refund.updated, so it notifies only for the older versions.

- `refund_issued`: refund.created whose refund is already `succeeded` (cards), or an update
  whose `previous_attributes` show the status changing to `succeeded`.
- `refund_failed`: refund.failed; before 2024-10-28 also charge.refund.updated changing
  the status to `failed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Incoming, Known, Refs, Row
from domain.mirror.families._read import Listing, ReadShape, Related
from domain.mirror.families.payments.owners import customer_of, payment_ids, rows_of_customer
from domain.mirror.families.payments.shapes import NAME_LENGTH, STATUS_LENGTH, short
from domain.mirror.families.payments.tables import REFUNDS, RefundStatus
from domain.mirror.notices import Notice
from domain.mirror.ordering import Stamp, tie_rank
from domain.mirror.store import current_stamp
from domain.mirror.stripe_json import (
    ViewError,
    currency,
    opt_int,
    ref_id,
    require_id,
    ts,
)
from domain.mirror.tables import STAMP_COLUMNS, stamp_columns
from domain.mirror.unit import Unit

# From this API version, refund.* events cover refunds of charges too.
ACACIA_REFUND_EVENTS = "2024-10-28"


@dataclass(frozen=True, slots=True)
class RefundView:
    """A refund; `charge_refund_events` is true for API versions before 2024-10-28."""

    id: str
    charge_id: str | None
    payment_intent_id: str | None
    customer_id: str | None
    status: str
    amount: int
    currency: str
    reason: str | None
    failure_reason: str | None
    created: datetime | None
    charge_refund_events: bool
    raw: dict[str, Any] = field(repr=False)


def parse_refund(obj: dict[str, Any], api_version: str | None = None) -> RefundView:
    """Parse a refund object (the same in both API shapes but for the fields it adds)."""
    code = currency(obj.get("currency"))
    if code is None:
        raise ViewError("refund without a currency")
    return RefundView(
        id=require_id(obj, "refund"),
        charge_id=ref_id(obj.get("charge")),
        payment_intent_id=ref_id(obj.get("payment_intent")),
        customer_id=ref_id(obj.get("customer")),
        # Refunds from before `status` existed were immediate.
        status=short(obj.get("status"), STATUS_LENGTH) or RefundStatus.SUCCEEDED,
        amount=opt_int(obj.get("amount")) or 0,
        currency=code,
        reason=short(obj.get("reason"), NAME_LENGTH),
        failure_reason=short(obj.get("failure_reason"), NAME_LENGTH),
        created=ts(obj.get("created")),
        charge_refund_events=bool(api_version) and str(api_version)[:10] < ACACIA_REFUND_EVENTS,
        raw=obj,
    )


def refund_refs(view: RefundView, event: EventEnvelope) -> Refs:
    return Refs(view.id, view.customer_id)


REFUND_RANK: dict[str, int] = {
    RefundStatus.PENDING: 0,
    RefundStatus.REQUIRES_ACTION: 1,
    RefundStatus.SUCCEEDED: 2,
}
# A succeeded refund can still fail (the bank returns it); failed and canceled are final.
REFUND_TERMINAL = frozenset({RefundStatus.FAILED, RefundStatus.CANCELED})


def refund_rank(view: RefundView, event_type: str) -> int:
    """Failed / canceled are terminal; pending < requires_action < succeeded."""
    return tie_rank(
        terminal=view.status in REFUND_TERMINAL, status_rank=REFUND_RANK.get(view.status, 0)
    )


def refund_row(view: RefundView, stamp: Stamp) -> Row:
    """The refund's row under `stamp` (a refund event's, or the charge event embedding it)."""
    return {
        "id": view.id,
        "charge_id": view.charge_id,
        "payment_intent_id": view.payment_intent_id,
        "stripe_customer_id": view.customer_id,
        "status": view.status,
        "amount": view.amount,
        "currency": view.currency,
        "reason": view.reason,
        "failure_reason": view.failure_reason,
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(stamp),
    }


def refund_transition(view: RefundView, incoming: Incoming[str | None]) -> Row:
    return refund_row(view, incoming.stamp)


def embedded_refund_rows(charge_row: Row, refunds: Sequence[dict[str, Any]]) -> list[Row]:
    """Rows of the refunds a charge event embeds (API versions before 2022-11-15).

    Each is the refund as it stood at the event's second, so it is stamped like a refund
    event of that second: (the charge event's created, the refund's own rank, the charge
    event's id). The guarded upsert then orders it against the refund's own events exactly
    as two refund events are ordered. Refunds without an id or currency are skipped.
    """
    rows = []
    for obj in refunds:
        try:
            view = parse_refund({**obj, "charge": obj.get("charge") or charge_row["id"]})
        except ViewError:
            continue
        created, _, event_id = (charge_row[c] for c in STAMP_COLUMNS)
        rows.append(refund_row(view, Stamp(created, refund_rank(view, ""), event_id)))
    return rows


class RefundKind(StrEnum):
    """Notifications about refunds."""

    REFUND_ISSUED = "refund_issued"
    REFUND_FAILED = "refund_failed"


def _status_changed(incoming: Incoming[Any]) -> bool:
    return "status" in incoming.previous


def refund_notice_kind(view: RefundView, incoming: Incoming[Any]) -> RefundKind | None:
    """Which notification this event is (see the module docstring), if any."""
    kind = incoming.type
    legacy_update = kind == "charge.refund.updated" and view.charge_refund_events
    if view.status == RefundStatus.SUCCEEDED:
        if kind == "refund.created":
            return RefundKind.REFUND_ISSUED
        if (kind == "refund.updated" or legacy_update) and _status_changed(incoming):
            return RefundKind.REFUND_ISSUED
    if kind == "refund.failed":
        return RefundKind.REFUND_FAILED
    if view.status == RefundStatus.FAILED and legacy_update and _status_changed(incoming):
        return RefundKind.REFUND_FAILED
    return None


def refund_notices(view: RefundView, incoming: Incoming[str | None]) -> list[Notice]:
    """refund_issued / refund_failed; the customer is the charge's (`facts`) when known."""
    kind = refund_notice_kind(view, incoming)
    if kind is None:
        return []
    payload = {
        "refund_id": view.id,
        "charge_id": view.charge_id,
        "payment_intent_id": view.payment_intent_id,
        "amount": view.amount,
        "currency": view.currency,
        "status": view.status,
        "reason": view.reason,
        "failure_reason": view.failure_reason,
    }
    return [Notice(kind, payload, customer_id=incoming.facts)]


def refund_known(unit: Unit, view: RefundView, refs: Refs, now: datetime) -> Known[str | None]:
    """The row's stamp, and the customer (the refund's own, else its charge's or intent's)."""
    customer = view.customer_id or customer_of(unit, view.charge_id, view.payment_intent_id)
    return Known(current_stamp(unit, REFUNDS, view.id), customer)


LISTING = Listing(
    summary="Refunds, newest first",
    shape=ReadShape(
        "Refund",
        REFUNDS,
        "A refund of one of the account's payments; amounts in minor units of `currency`.",
        money={"amount": "currency"},
        related={
            "payment_id": Related(
                str | None,
                payment_ids,
                doc="the payment refunded (its payment intent, or the charge made without one)",
            )
        },
    ),
    status=RefundStatus,
    owner=rows_of_customer(REFUNDS),
)

EVENT_TYPES = ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated")
