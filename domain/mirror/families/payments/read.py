"""GET /v1/accounts/{account_ref}/payments: a payment row with its charges' and invoice
link's facts, joined at read time.

The shown charge of a payment is its `latest_charge` when the mirror has it, else its
most recent succeeded charge, else its most recent one; a direct charge is its own. The
amount refunded is the sum over the payment's charges (Stripe's `amount_refunded` of each);
the dispute status is its newest dispute's.
The invoice id is the one the payment intent or charge names (before API 2025-03-31),
else the invoice of a paid `invoice_payment` linking it. Nothing here is copied into the
payment row, so it does not matter whether the charge, the intent or the invoice payment
event arrives first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from domain.mirror.families._read import Listing, ReadShape, Related
from domain.mirror.families.payments.tables import (
    CHARGES,
    DISPUTES,
    INVOICE_PAYMENTS,
    PAYMENTS,
    ChargeStatus,
    InvoicePaymentStatus,
    PaymentStatus,
)


@dataclass(frozen=True, slots=True)
class ChargeFacts:
    """What a payment's charges tell its body."""

    charge_id: str | None
    receipt_url: str | None
    payment_method_type: str | None
    amount_refunded: int


def _charge_order(charge: Any) -> tuple[bool, int, str]:
    created = charge.stripe_created.timestamp() if charge.stripe_created else 0
    return (charge.status == ChargeStatus.SUCCEEDED, int(created), charge.id)


def charge_facts(session: Session, rows: Sequence[Any]) -> dict[str, ChargeFacts]:
    """payment id -> its charges' facts, one query for every shown payment."""
    ids = [r.id for r in rows]
    c = CHARGES.c
    found: dict[str, list[Any]] = {}
    query = select(CHARGES).where(or_(c.id.in_(ids), c.payment_intent_id.in_(ids)))
    for charge in session.execute(query):
        owner = charge.payment_intent_id or charge.id
        found.setdefault(owner, []).append(charge)
    facts: dict[str, ChargeFacts] = {}
    for row in rows:
        charges = found.get(row.id, [])
        if not charges:
            continue
        latest = [ch for ch in charges if ch.id == row.latest_charge_id]
        shown = latest[0] if latest else max(charges, key=_charge_order)
        facts[row.id] = ChargeFacts(
            charge_id=shown.id,
            receipt_url=shown.receipt_url,
            payment_method_type=shown.payment_method_type,
            amount_refunded=sum(ch.amount_refunded for ch in charges),
        )
    return facts


def _from_charges(
    pick: Callable[[Any, ChargeFacts], Any],
) -> Callable[[Session, Sequence[Any]], Mapping[str, Any]]:
    def load(session: Session, rows: Sequence[Any]) -> Mapping[str, Any]:
        facts = charge_facts(session, rows)
        return {r.id: pick(r, facts[r.id]) for r in rows if r.id in facts}

    return load


def method_types(session: Session, rows: Sequence[Any]) -> dict[str, str | None]:
    """payment id -> its method type: the payment's own, else its shown charge's."""
    facts = charge_facts(session, rows)
    return {
        r.id: r.payment_method_type or (facts[r.id].payment_method_type if r.id in facts else None)
        for r in rows
    }


def _invoice_order(link: Any) -> tuple[bool, bool, int, str]:
    created = link.stripe_created.timestamp() if link.stripe_created else 0
    paid = link.status == InvoicePaymentStatus.PAID
    return (paid, link.is_default, int(created), link.id)


def invoice_ids(session: Session, rows: Sequence[Any]) -> dict[str, str]:
    """payment id -> its invoice: named by the object (pre-2025), by its charge, or linked."""
    ids = [r.id for r in rows]
    links: dict[str, list[Any]] = {}
    ip = INVOICE_PAYMENTS.c
    query = select(INVOICE_PAYMENTS).where(
        ip.invoice_id.is_not(None),
        or_(ip.payment_intent_id.in_(ids), ip.charge_id.in_(ids)),
    )
    for link in session.execute(query):
        links.setdefault(link.payment_intent_id or link.charge_id, []).append(link)
    c = CHARGES.c
    by_charge: dict[str, str] = {}
    query = select(c.payment_intent_id, c.id, c.invoice_id).where(
        c.invoice_id.is_not(None), or_(c.id.in_(ids), c.payment_intent_id.in_(ids))
    )
    for pi, charge_id, invoice_id in session.execute(query.order_by(c.id)):
        by_charge.setdefault(pi or charge_id, invoice_id)
    found: dict[str, str] = {}
    for row in rows:
        if row.invoice_id:
            found[row.id] = row.invoice_id
        elif row.id in links:
            found[row.id] = max(links[row.id], key=_invoice_order).invoice_id
        elif row.id in by_charge:
            found[row.id] = by_charge[row.id]
    return found


def _newest(row: Any) -> tuple[int, str]:
    return (int(row.stripe_created.timestamp()) if row.stripe_created else 0, row.id)


def dispute_statuses(session: Session, rows: Sequence[Any]) -> dict[str, str]:
    """payment id -> the status of its newest dispute (of the intent or any of its charges)."""
    ids = [r.id for r in rows]
    d, c = DISPUTES.c, CHARGES.c
    of_intents = select(c.id, c.payment_intent_id).where(c.payment_intent_id.in_(ids))
    intent_of = {charge_id: pi for charge_id, pi in session.execute(of_intents)}
    query = select(d.id, d.charge_id, d.payment_intent_id, d.status, d.stripe_created).where(
        or_(
            d.payment_intent_id.in_(ids),
            d.charge_id.in_(ids),
            d.charge_id.in_(sorted(intent_of)),
        )
    )
    newest: dict[str, Any] = {}
    for dispute in session.execute(query):
        owner = dispute.payment_intent_id or intent_of.get(dispute.charge_id) or dispute.charge_id
        if owner not in newest or _newest(dispute) > _newest(newest[owner]):
            newest[owner] = dispute
    return {owner: dispute.status for owner, dispute in newest.items()}


RELATED = {
    "invoice_id": Related(
        str | None,
        invoice_ids,
        doc="the invoice this payment pays (named by the payment before API 2025-03-31,"
        " by an invoice payment since)",
    ),
    "payment_method_type": Related(
        str | None,
        method_types,
        doc="card, sepa_debit, ideal, ... (the payment's, else its charge's)",
    ),
    "charge_id": Related(
        str | None,
        _from_charges(lambda row, f: f.charge_id),
        doc="the payment's latest (else succeeded) charge the mirror holds",
    ),
    "receipt_url": Related(
        str | None, _from_charges(lambda row, f: f.receipt_url), doc="the charge's receipt page"
    ),
    "dispute_status": Related(
        str | None,
        dispute_statuses,
        doc="the status of the payment's newest dispute (needs_response, won, lost, ...)",
    ),
    "amount_refunded": Related(
        int,
        _from_charges(lambda row, f: f.amount_refunded),
        default=lambda: 0,
        doc="refunded so far, in minor units of the payment's currency",
    ),
}


LISTING = Listing(
    summary="Payments (payment intents and direct charges), newest first",
    shape=ReadShape(
        "Payment",
        PAYMENTS,
        "A payment of the account: a payment intent, or a charge made without one;"
        " amounts in minor units of `currency`. Failure code and message are Stripe's,"
        " never card holder details.",
        hidden=frozenset({"invoice_id", "payment_method_type"}),  # shown through RELATED
        money={"amount": "currency"},
        related=RELATED,
    ),
    status=PaymentStatus,
)
