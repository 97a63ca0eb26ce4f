"""customer.source.* events -> payment_methods rows flagged `source` (legacy cards, sources).

Before PaymentMethods, Stripe saved a customer's card as a `card` object (card_...) or a
`source` (src_..., of type card, sepa_debit, ...); customers saved that way still pay with
them, and their events are `customer.source.created/updated/deleted/expiring`. The
product asks for one list of a customer's means of payment, so these rows live in the
payment methods table (`source = true`) with the same columns a payment method fills:
brand/last4/expiry, or the SEPA bank/last4. The ids never collide with payment methods'
(pm_ vs card_/src_), and each row carries the stamp of its own family's last event, so the
two families never order each other's events.

A deleted source is `detached` (terminal, like a detached payment method) and drops out of
the listing's default view; so does a source Stripe has `canceled`, `failed` or
`consumed` (it can no longer be charged). Which one is the customer's default is the
payment methods rule (`customer_default`): `invoice_settings.default_payment_method`,
else the customer's legacy `default_source`.

The cardholder's name and address (card `name`, `address_*`; a source's `owner`) are never
stored, not even in `raw`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Family, Incoming, Refs, Row
from domain.mirror.families._instruments import instrument_row
from domain.mirror.families.payment_methods import (
    PAYMENT_METHODS,
    Owner,
    payment_method_known,
)
from domain.mirror.notices import Notice
from domain.mirror.ordering import tie_rank
from domain.mirror.stripe_json import child, opt_int, opt_str, ref_id, require_id

CREATED, UPDATED = "customer.source.created", "customer.source.updated"
EXPIRING, DELETED = "customer.source.expiring", "customer.source.deleted"
# Lifecycle position of the non-terminal events of one second (deleted is terminal).
PROGRESS = {CREATED: 0, UPDATED: 1, EXPIRING: 2}
# Source (and bank account) statuses after which it can never be charged again.
UNUSABLE = frozenset({"canceled", "failed", "consumed", "verification_failed", "errored"})
_PREFIXES = (("card_", "card"), ("ba_", "bank_account"))

# Legacy card brands ("Visa", "American Express") as PaymentMethods spell them ("amex").
BRANDS = {
    "american express": "amex",
    "diners club": "diners",
    "mastercard": "mastercard",
    "unionpay": "unionpay",
    "cartes bancaires": "cartes_bancaires",
}
# Never kept, not even in `raw`: the cardholder's (or account holder's) name and address
# (every `address_*` key), a source's owner, its receiver account and its client secret.
PERSONAL = frozenset({"name", "account_holder_name", "owner", "receiver", "client_secret"})


class SourceNoticeKind(StrEnum):
    """Notifications of the sources family."""

    CARD_EXPIRING = "card_expiring"


@dataclass(frozen=True, slots=True)
class SourceView:
    """A legacy card or source: what the payment methods listing shows of it."""

    id: str
    customer_id: str | None
    type: str
    status: str | None  # a source's own status (pending, chargeable, ...); None for a card
    card_brand: str | None
    card_last4: str | None
    card_exp_month: int | None
    card_exp_year: int | None
    bank_code: str | None
    bank_last4: str | None
    bank_country: str | None
    raw: dict[str, Any] = field(repr=False)


def card_brand(value: Any) -> str | None:
    """A legacy brand ("Visa", "American Express") in PaymentMethods' spelling ("visa", "amex")."""
    brand = opt_str(value)
    if brand is None:
        return None
    lower = brand.strip().lower()
    return BRANDS.get(lower, lower.replace(" ", "_"))[:32] or None


def scrubbed(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without the cardholder's name, address or owner (kept as `raw`)."""
    clean = _without_personal(obj)
    for kind in ("card", "sepa_debit"):
        details = clean.get(kind)
        if isinstance(details, dict):
            clean[kind] = _without_personal(details)
    return clean


def _without_personal(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in PERSONAL and not k.startswith("address")}


def _short(value: Any, length: int) -> str | None:
    text = opt_str(value)
    return text[:length] if text else None


def _kind_by_prefix(source_id: str) -> str:
    return next((kind for prefix, kind in _PREFIXES if source_id.startswith(prefix)), "source")


def parse_source(obj: dict[str, Any], api_version: str | None = None) -> SourceView:
    """Parse a `card` or a `source` object (the same in both API shapes).

    The object decides: `object: "card"` is a legacy card with its details at the top
    level, `bank_account` a legacy (ACH) bank account likewise; otherwise a source, whose
    details sit under its `type` (`card`, `sepa_debit`). Without `object`, the id's prefix.
    `customer` may be an id, an expanded customer or missing (a source not attached).
    """
    source_id = require_id(obj, "source")
    kind = opt_str(obj.get("object")) or _kind_by_prefix(source_id)
    is_card, is_bank = kind == "card", kind == "bank_account"
    card = obj if is_card else child(obj, "card")
    sepa = obj if is_bank else child(obj, "sepa_debit")
    exp_month, exp_year = opt_int(card.get("exp_month")), opt_int(card.get("exp_year"))
    own_type = _short(obj.get("type"), 64) or "unknown"
    return SourceView(
        id=source_id,
        customer_id=ref_id(obj.get("customer")),
        type=kind if is_card or is_bank else own_type,
        status=None if is_card else opt_str(obj.get("status")),
        card_brand=card_brand(card.get("brand")),
        card_last4=_short(card.get("last4"), 4),
        card_exp_month=exp_month if exp_month and 1 <= exp_month <= 12 else None,
        card_exp_year=exp_year,
        bank_code=_short(sepa.get("bank_code") or sepa.get("routing_number"), 64),
        bank_last4=_short(sepa.get("last4"), 4),
        bank_country=_short(sepa.get("country"), 2),
        raw=scrubbed(obj),
    )


def source_refs(view: SourceView, event: EventEnvelope) -> Refs:
    # A deletion's object may have lost its customer; the former one is then in
    # previous_attributes (else the stored row keeps it, see payment_method_known).
    customer = view.customer_id or ref_id(event.previous_attributes.get("customer"))
    return Refs(view.id, customer)


def source_detached(view: SourceView, event_type: str) -> bool:
    """Gone for good: deleted, or a source Stripe will never charge again."""
    return event_type == DELETED or view.status in UNUSABLE


def source_rank(view: SourceView, event_type: str) -> int:
    """Deleted (or unusable) is terminal; then created < updated < expiring in one second."""
    return tie_rank(
        terminal=source_detached(view, event_type),
        status_rank=0,
        progress=PROGRESS.get(event_type, 1),
    )


def source_transition(view: SourceView, incoming: Incoming[Owner]) -> Row:
    """The source's payment methods row (`source = true`); a deleted one keeps its owner."""
    return instrument_row(
        view, incoming, detached=source_detached(view, incoming.type), source=True
    )


def source_notices(view: SourceView, incoming: Incoming[Owner]) -> list[Notice]:
    """customer.source.expiring: the card expires at the end of the month (ids and dates)."""
    if incoming.type != EXPIRING:
        return []
    payload = {
        "source_id": view.id,
        "exp_month": view.card_exp_month,
        "exp_year": view.card_exp_year,
    }
    return [Notice(SourceNoticeKind.CARD_EXPIRING, payload)]


FAMILY = Family(
    name="sources",
    object_type="source",
    event_types=(CREATED, UPDATED, EXPIRING, DELETED),
    parse=parse_source,
    refs=source_refs,
    rank=source_rank,
    transition=source_transition,
    table=PAYMENT_METHODS,
    known=payment_method_known,
    notices=source_notices,
    kinds=tuple(SourceNoticeKind),
)
