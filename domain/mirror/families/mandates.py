"""mandate.updated events -> mandates (the SEPA debit authorisations behind payment methods).

A SEPA payment method can only be charged while its mandate is `active`; the product
shows that status next to the payment method (`mandate` on each payment method in the
payment methods listing, from the newest mandate of that method, see `Family.adds`).
Stripe sends `mandate.updated` when a mandate becomes active, is revoked or used up
(`inactive`), so every mandate event is the same type; the status orders them.

The customer's acceptance (IP address, user agent) is personal data: it is not stored,
not even in `raw`; only when it was accepted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import String, Table, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Family, Incoming, Refs, Row
from domain.mirror.families._read import Related
from domain.mirror.ordering import tie_rank
from domain.mirror.stripe_json import child, opt_str, ref_id, require_id, sub, ts
from domain.mirror.tables import ID, Stamped, stamp_columns
from domain.models import Base
from domain.types import JSONType, UTCDateTime

UPDATED = "mandate.updated"
# Same-second order of a mandate's statuses; `inactive` (revoked, rejected or used up) is
# final in Stripe. A status Stripe may add later ranks with `pending`.
STATUS_RANK = {"pending": 0, "active": 1}
TERMINAL = frozenset({"inactive"})


@dataclass(frozen=True, slots=True)
class MandateView:
    """A mandate: whose payment method it authorises, its status and its SEPA reference."""

    id: str
    payment_method_id: str | None
    status: str
    type: str | None
    method_type: str | None
    reference: str | None
    url: str | None
    accepted_at: datetime | None
    raw: dict[str, Any] = field(repr=False)


def _short(value: Any, length: int) -> str | None:
    text = opt_str(value)
    return text[:length] if text else None


def scrubbed(obj: dict[str, Any]) -> dict[str, Any]:
    """The mandate without the customer's IP address and user agent (kept as `raw`)."""
    clean = dict(obj)
    acceptance = obj.get("customer_acceptance")
    if isinstance(acceptance, dict):
        clean["customer_acceptance"] = {
            k: v for k, v in acceptance.items() if k in ("accepted_at", "type")
        }
    return clean


def parse_mandate(obj: dict[str, Any], api_version: str | None = None) -> MandateView:
    """Parse a mandate object (the same in both API shapes; `payment_method` may be expanded).

    The details sit under `payment_method_details.<type>`; a mandate of another type than
    SEPA debit is mirrored too, without a reference. An unknown status is kept as sent.
    """
    details = child(obj, "payment_method_details")
    method_type = _short(details.get("type"), 64)
    specific = child(details, method_type) if method_type else {}
    return MandateView(
        id=require_id(obj, "mandate"),
        payment_method_id=ref_id(obj.get("payment_method")),
        status=_short(obj.get("status"), 32) or "pending",
        type=_short(obj.get("type"), 32),
        method_type=method_type,
        reference=_short(specific.get("reference"), 255),
        url=_short(specific.get("url"), 2048),
        accepted_at=ts(sub(obj, "customer_acceptance", "accepted_at")),
        raw=scrubbed(obj),
    )


def mandate_refs(view: MandateView, event: EventEnvelope) -> Refs:
    return Refs(view.id)


def mandate_rank(view: MandateView, event_type: str) -> int:
    """inactive is terminal; pending < active within one second."""
    return tie_rank(terminal=view.status in TERMINAL, status_rank=STATUS_RANK.get(view.status, 0))


def mandate_transition(view: MandateView, incoming: Incoming[None]) -> Row:
    return {
        "id": view.id,
        "payment_method_id": view.payment_method_id,
        "status": view.status,
        "type": view.type,
        "method_type": view.method_type,
        "reference": view.reference,
        "url": view.url,
        "accepted_at": view.accepted_at,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


class Mandate(Stamped, Base):
    """A payment method's mandate (SEPA debit): status active / inactive / pending."""

    __tablename__ = "mandates"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    payment_method_id: Mapped[str | None] = mapped_column(ID, index=True)
    # Stored as sent: a status Stripe adds later is kept rather than refused.
    status: Mapped[str] = mapped_column(String(32))
    type: Mapped[str | None] = mapped_column(String(32))  # multi_use / single_use
    method_type: Mapped[str | None] = mapped_column(String(64))  # sepa_debit, ...
    reference: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2048))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)


MANDATES: Table = Mandate.__table__  # type: ignore[assignment]


class MandateOut(BaseModel):
    """The newest mandate of a payment method (SEPA debit): can it be charged?"""

    id: str
    status: str
    type: str | None
    reference: str | None


def newest_mandates(session: Session, rows: Sequence[Any]) -> Mapping[Any, Any]:
    """{payment method id: its newest mandate}: latest accepted, then latest event, then id."""
    ids = [row.id for row in rows]
    if not ids:
        return {}
    c = MANDATES.c
    found = session.execute(
        select(c.id, c.payment_method_id, c.status, c.type, c.reference)
        .where(c.payment_method_id.in_(ids))
        .order_by(c.accepted_at.is_not(None), c.accepted_at, c.last_event_created, c.id)
    ).all()
    newest: dict[Any, MandateOut] = {}
    for m in found:  # ascending: the last one per payment method wins
        newest[m.payment_method_id] = MandateOut(
            id=m.id, status=m.status, type=m.type, reference=m.reference
        )
    return newest


MANDATE_FIELD = Related(
    type=MandateOut | None,
    load=newest_mandates,
    doc="The payment method's newest mandate (SEPA debit), null when it has none.",
)

FAMILY = Family(
    name="mandates",
    object_type="mandate",
    event_types=(UPDATED,),
    parse=parse_mandate,
    refs=mandate_refs,
    rank=mandate_rank,
    transition=mandate_transition,
    table=MANDATES,
    adds={"payment-methods": {"mandate": MANDATE_FIELD}},
)
