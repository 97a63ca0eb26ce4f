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

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, or_, select, union_all

from domain.mirror.families.payments.tables import CHARGES, PAYMENTS
from domain.mirror.store import flush_writes
from domain.mirror.unit import Unit


def rows_of_customer(table: Table) -> Callable[[str], ColumnElement[bool]]:
    """`Listing.owner` of a table with stripe_customer_id, charge_id and payment_intent_id."""

    def owner(customer_id: str) -> ColumnElement[bool]:
        charges = select(CHARGES.c.id).where(CHARGES.c.stripe_customer_id == customer_id)
        intents = select(PAYMENTS.c.id).where(PAYMENTS.c.stripe_customer_id == customer_id)
        return or_(
            table.c.stripe_customer_id == customer_id,
            table.c.charge_id.in_(charges),
            table.c.payment_intent_id.in_(intents),
        )

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
