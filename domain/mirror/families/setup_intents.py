"""setup_intent.succeeded / setup_intent.setup_failed -> setup_intents, and `setup_failed`.

A setup intent saves a payment method for later (a card with 3-D Secure, a SEPA mandate).
One setup intent can fail and then succeed (the customer retries with another card), so
both events write the same row; `succeeded` (and `canceled`) are final in Stripe and
outrank a failure of the same second. A failure is told to the product (`setup_failed`)
with the ids and Stripe's error code only.

On a failure Stripe clears `payment_method` and puts the failed method, whole, under
`last_setup_error.payment_method`: only its id is kept (its billing details are personal
data), also in `raw`. The error's `message` is Stripe's text about the decline, stored for
support, never sent in the notification.

The read API lists them per account (`GET /v1/accounts/{account_ref}/setup-intents`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String, Table
from sqlalchemy.orm import Mapped, mapped_column

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Family, Incoming, Refs, Row
from domain.mirror.families._read import Listing, ReadShape
from domain.mirror.notices import Notice
from domain.mirror.ordering import tie_rank
from domain.mirror.stripe_json import child, opt_str, ref_id, require_id, ts
from domain.mirror.tables import ID, Stamped, stamp_columns
from domain.models import Base
from domain.types import JSONType, UTCDateTime

SUCCEEDED, SETUP_FAILED = "setup_intent.succeeded", "setup_intent.setup_failed"
TERMINAL = frozenset({"succeeded", "canceled"})
# Same-second order of the non-terminal statuses (a status Stripe adds later ranks lowest).
STATUS_RANK = {
    "requires_payment_method": 1,
    "requires_confirmation": 2,
    "requires_action": 3,
    "processing": 4,
}


class SetupIntentStatus(StrEnum):
    """Stripe's setup intent statuses: the values of the listing's `?status=` filter (the
    column keeps a status Stripe adds later as sent)."""

    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    CANCELED = "canceled"
    SUCCEEDED = "succeeded"


class SetupIntentNoticeKind(StrEnum):
    """Notifications of the setup intents family."""

    SETUP_FAILED = "setup_failed"


@dataclass(frozen=True, slots=True)
class SetupIntentView:
    """A setup intent: whose, which payment method, how it ended, and why it failed."""

    id: str
    customer_id: str | None
    payment_method_id: str | None
    status: str
    usage: str | None
    error_code: str | None
    error_decline_code: str | None
    error_message: str | None
    mandate_id: str | None
    created: datetime | None
    raw: dict[str, Any] = field(repr=False)


def _short(value: Any, length: int) -> str | None:
    text = opt_str(value)
    return text[:length] if text else None


def scrubbed(obj: dict[str, Any]) -> dict[str, Any]:
    """The setup intent without its client secret or the failed method's details."""
    clean = {k: v for k, v in obj.items() if k != "client_secret"}
    error = obj.get("last_setup_error")
    if isinstance(error, dict) and "payment_method" in error:
        clean["last_setup_error"] = {**error, "payment_method": ref_id(error["payment_method"])}
    for key in ("payment_method", "latest_attempt", "mandate", "customer"):
        if isinstance(obj.get(key), dict):
            clean[key] = ref_id(obj[key])
    return clean


def parse_setup_intent(obj: dict[str, Any], api_version: str | None = None) -> SetupIntentView:
    """Parse a setup_intent object (the same in both API shapes; references may be expanded)."""
    error = child(obj, "last_setup_error")
    method = ref_id(obj.get("payment_method")) or ref_id(error.get("payment_method"))
    return SetupIntentView(
        id=require_id(obj, "setup intent"),
        customer_id=ref_id(obj.get("customer")),
        payment_method_id=method,
        status=_short(obj.get("status"), 32) or "requires_payment_method",
        usage=_short(obj.get("usage"), 32),
        error_code=_short(error.get("code"), 64),
        error_decline_code=_short(error.get("decline_code"), 64),
        error_message=_short(error.get("message"), 1024),
        mandate_id=ref_id(obj.get("mandate")),
        created=ts(obj.get("created")),
        raw=scrubbed(obj),
    )


def setup_intent_refs(view: SetupIntentView, event: EventEnvelope) -> Refs:
    return Refs(view.id, view.customer_id)


def setup_intent_rank(view: SetupIntentView, event_type: str) -> int:
    """succeeded / canceled are terminal; otherwise the status's place in the lifecycle."""
    return tie_rank(terminal=view.status in TERMINAL, status_rank=STATUS_RANK.get(view.status, 0))


def setup_intent_transition(view: SetupIntentView, incoming: Incoming[None]) -> Row:
    return {
        "id": view.id,
        "stripe_customer_id": view.customer_id,
        "payment_method_id": view.payment_method_id,
        "status": view.status,
        "usage": view.usage,
        "error_code": view.error_code,
        "error_decline_code": view.error_decline_code,
        "error_message": view.error_message,
        "mandate_id": view.mandate_id,
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


def setup_intent_notices(view: SetupIntentView, incoming: Incoming[None]) -> list[Notice]:
    """setup_intent.setup_failed: ids and Stripe's error code (never the method's details)."""
    if incoming.type != SETUP_FAILED:
        return []
    payload = {
        "setup_intent_id": view.id,
        "payment_method_id": view.payment_method_id,
        "error_code": view.error_code,
        "decline_code": view.error_decline_code,
    }
    return [Notice(SetupIntentNoticeKind.SETUP_FAILED, payload)]


class SetupIntent(Stamped, Base):
    """A setup intent of a customer: the payment method it saved, or why it failed."""

    __tablename__ = "setup_intents"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(ID, index=True)
    payment_method_id: Mapped[str | None] = mapped_column(ID)
    # Stored as sent: a status Stripe adds later is kept rather than refused.
    status: Mapped[str] = mapped_column(String(32))
    usage: Mapped[str | None] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_decline_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(1024))
    mandate_id: Mapped[str | None] = mapped_column(ID)
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


SETUP_INTENTS: Table = SetupIntent.__table__  # type: ignore[assignment]

LISTING = Listing(
    summary="Setup intents, newest first: saved payment methods and failed attempts",
    shape=ReadShape(
        "SetupIntent",
        SETUP_INTENTS,
        "A setup intent: the payment method it saved (and its mandate), or Stripe's error"
        " code, decline code and message for the last failed attempt.",
    ),
    status=SetupIntentStatus,
)

FAMILY = Family(
    name="setup-intents",
    object_type="setup_intent",
    event_types=(SUCCEEDED, SETUP_FAILED),
    parse=parse_setup_intent,
    refs=setup_intent_refs,
    rank=setup_intent_rank,
    transition=setup_intent_transition,
    table=SETUP_INTENTS,
    notices=setup_intent_notices,
    kinds=tuple(SetupIntentNoticeKind),
    listing=LISTING,
)
