"""The sources group's lifecycle as Stripe events (fixed ids and seconds, same-second ties).

A legacy card saved on the customer and made its default source, updated, expiring, deleted
(with a stale same-second update after the delete); a SEPA payment method attached, its
setup intent failing and then succeeding in one second, its mandate pending -> active in
one second, then inactive (with a stale same-second `active`).
"""

from __future__ import annotations

from typing import Any

from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror import factory_sources as fs

T0 = 1_720_000_000
ACCT, CUS, CARD, PM, SETI, MANDATE = (
    "acct_src_life",
    "cus_src_life",
    "card_src_life",
    "pm_sepa_life",
    "seti_src_life",
    "mandate_src_life",
)


def customer_with_default_source() -> dict[str, Any]:
    """The customer after the card became its legacy default source (no default method)."""
    obj = f.customer(CUS, account_ref=ACCT)
    obj["default_source"] = CARD
    return obj


def sources_lifecycle(shape: ApiShape, prefix: str = "evt_src") -> list[dict[str, Any]]:
    """The events in the order Stripe created them."""
    n = iter(range(100))

    def ev(event_type: str, obj: dict[str, Any], at: int) -> dict[str, Any]:
        return f.event(event_type, obj, at, shape=shape, event_id=f"{prefix}_{next(n):02d}")

    def card(exp_year: int = 2030) -> dict[str, Any]:
        # A deleted card still names its customer (it is the object Stripe deleted).
        return fs.card(CARD, CUS, exp_month=12, exp_year=exp_year, shape=shape)

    def mandate(status: str) -> dict[str, Any]:
        return fs.mandate(MANDATE, PM, status, shape=shape, accepted_at=T0 + 31)

    def seti(status: str, **kw: Any) -> dict[str, Any]:
        return fs.setup_intent(SETI, CUS, status, created=T0 + 30, shape=shape, **kw)

    return [
        ev("customer.created", f.customer(CUS, account_ref=ACCT), T0),
        # Same second: the card is saved and made the customer's default.
        ev("customer.source.created", card(), T0 + 1),
        ev("customer.updated", customer_with_default_source(), T0 + 1),
        # Same second: a new expiry, then Stripe's expiring notice.
        ev("customer.source.updated", card(exp_year=2026), T0 + 10),
        ev("customer.source.expiring", card(exp_year=2026), T0 + 10),
        # Same second: deleted, and a stale update that must not bring it back.
        ev("customer.source.deleted", card(exp_year=2026), T0 + 20),
        ev("customer.source.updated", card(exp_year=2026), T0 + 20),
        ev("payment_method.attached", f.payment_method(PM, CUS, kind="sepa_debit"), T0 + 30),
        # Same second: the setup intent fails with one card, then succeeds with SEPA.
        ev(
            "setup_intent.setup_failed",
            seti("requires_payment_method", payment_method="pm_bad", error="card_declined"),
            T0 + 31,
        ),
        ev(
            "setup_intent.succeeded", seti("succeeded", payment_method=PM, mandate=MANDATE), T0 + 31
        ),
        # Same second: pending, then active.
        ev("mandate.updated", mandate("pending"), T0 + 31),
        ev("mandate.updated", mandate("active"), T0 + 31),
        # Revoked; a stale same-second `active` must not revive it.
        ev("mandate.updated", mandate("inactive"), T0 + 40),
        ev("mandate.updated", mandate("active"), T0 + 40),
    ]
