"""The payment methods row both families write: payment methods and legacy cards/sources.

They share every card and bank column (brand, last4, expiry, bank code/last4/country) and
the attach / default / owner rules; only iDEAL details and the `source` flag differ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from domain.mirror.families._family import Incoming, Row
from domain.mirror.statuses import PaymentMethodStatus
from domain.mirror.tables import stamp_columns

if TYPE_CHECKING:  # payment_methods imports this module
    from domain.mirror.families.payment_methods import Owner


class Instrument(Protocol):
    """What a payment methods row is written from: a payment method or a legacy source."""

    @property
    def id(self) -> str: ...
    @property
    def customer_id(self) -> str | None: ...
    @property
    def type(self) -> str: ...
    @property
    def card_brand(self) -> str | None: ...
    @property
    def card_last4(self) -> str | None: ...
    @property
    def card_exp_month(self) -> int | None: ...
    @property
    def card_exp_year(self) -> int | None: ...
    @property
    def bank_code(self) -> str | None: ...
    @property
    def bank_last4(self) -> str | None: ...
    @property
    def bank_country(self) -> str | None: ...
    @property
    def raw(self) -> dict[str, Any]: ...


def instrument_row(
    view: Instrument,
    incoming: Incoming[Owner],
    *,
    detached: bool,
    source: bool,
    ideal: tuple[str | None, str | None] = (None, None),
) -> Row:
    """The payment methods row of a payment method or a source (the card and bank columns
    they share); a detached one keeps the customer it belonged to. `ideal`: bank, BIC."""
    owner = incoming.facts
    return {
        "id": view.id,
        "stripe_customer_id": view.customer_id or owner.customer_id,
        "status": PaymentMethodStatus.DETACHED if detached else PaymentMethodStatus.ATTACHED,
        "type": view.type,
        "source": source,
        "card_brand": view.card_brand,
        "card_last4": view.card_last4,
        "card_exp_month": view.card_exp_month,
        "card_exp_year": view.card_exp_year,
        "bank_code": view.bank_code,
        "bank_last4": view.bank_last4,
        "bank_country": view.bank_country,
        "ideal_bank": ideal[0],
        "ideal_bic": ideal[1],
        "is_default": not detached and view.id == owner.default_payment_method_id,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }
