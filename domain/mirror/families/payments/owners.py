"""Whose refund or dispute it is: found through its charge or payment intent.

Refunds and disputes do not (reliably) name their customer, and their events may arrive
before the charge's. Their rows therefore keep only what the object itself says; the read
API selects an account's rows through the charge and payment intent rows at read time
(`rows_of_customer`), so the answer is the same whichever event arrived first. A
notification must name its customer when it is written: `customer_of` looks it up then
(Stripe sends a charge's events long before its refunds and disputes; when the charge is
not mirrored yet the notification has no customer, and its payload names the charge).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, or_, select, union_all
from sqlalchemy.orm import Session

from domain.mirror.families.payments.tables import CHARGES, PAYMENTS
from domain.mirror.store import flush_writes
from domain.mirror.unit import Unit


def rows_of_customer(table: Table) -> Callable[[str], ColumnElement[bool]]:
    """`Listing.owner` of a table with charge_id and payment_intent_id (and, if it has one,
    its own stripe_customer_id)."""

    def owner(customer_id: str) -> ColumnElement[bool]:
        charges = select(CHARGES.c.id).where(CHARGES.c.stripe_customer_id == customer_id)
        intents = select(PAYMENTS.c.id).where(PAYMENTS.c.stripe_customer_id == customer_id)
        through: list[ColumnElement[bool]] = [
            table.c.charge_id.in_(charges),
            table.c.payment_intent_id.in_(intents),
        ]
        if "stripe_customer_id" in table.c:  # what the object itself says (refunds, lately)
            through.append(table.c.stripe_customer_id == customer_id)
        return or_(*through)

    return owner


def customer_of(unit: Unit, charge_id: str | None, payment_intent_id: str | None) -> str | None:
    """The customer of the mirrored charge, else of the payment intent, else None."""
    if charge_id is None and payment_intent_id is None:
        return None
    flush_writes(unit)  # this batch's charge and payment rows must be visible
    params: dict[str, Any] = {"charge": charge_id, "intent": payment_intent_id}
    found = unit.session.execute(_CUSTOMER_OF, params).scalars().first()
    return found if isinstance(found, str) else None


_CUSTOMER_OF = union_all(
    select(CHARGES.c.stripe_customer_id).where(
        CHARGES.c.id == bindparam("charge"), CHARGES.c.stripe_customer_id.is_not(None)
    ),
    select(PAYMENTS.c.stripe_customer_id).where(
        PAYMENTS.c.id == bindparam("intent"), PAYMENTS.c.stripe_customer_id.is_not(None)
    ),
)


def payment_ids(session: Session, rows: Sequence[Any]) -> Mapping[str, str | None]:
    """refund (or dispute) id -> the payment it is about: its payment intent, else its
    charge's, else the charge (a direct charge is its own payment)."""
    charge_ids = sorted({r.charge_id for r in rows if r.charge_id and not r.payment_intent_id})
    intents: dict[str, str | None] = {}
    if charge_ids:
        query = select(CHARGES.c.id, CHARGES.c.payment_intent_id).where(
            CHARGES.c.id.in_(charge_ids)
        )
        intents = {charge_id: pi for charge_id, pi in session.execute(query)}
    return {r.id: r.payment_intent_id or intents.get(r.charge_id) or r.charge_id for r in rows}
