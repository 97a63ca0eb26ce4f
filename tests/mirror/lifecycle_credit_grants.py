"""The credit grants' lifecycle as Stripe events (fixed ids and seconds, same-second ties).

A promotional grant with product credits (`metadata.credits`) created and renamed in one
second, its expiry moved, then voided with a stale same-second update after the void; a
second grant without credits created and updated in one second.
"""

from __future__ import annotations

from typing import Any

from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror import factory_credit_grants as fg

T0 = 1_730_000_000
ACCT, CUS, GRANT, PLAIN = "acct_grant_life", "cus_grant_life", "credgr_life", "credgr_plain"


def credit_grants_lifecycle(shape: ApiShape, prefix: str = "evt_grant") -> list[dict[str, Any]]:
    """The events in the order Stripe created them."""
    n = iter(range(100))

    def ev(event_type: str, obj: dict[str, Any], at: int) -> dict[str, Any]:
        return f.event(event_type, obj, at, shape=shape, event_id=f"{prefix}_{next(n):02d}")

    def grant(**kw: Any) -> dict[str, Any]:
        return fg.credit_grant(GRANT, CUS, credits=300, created=T0 + 1, shape=shape, **kw)

    def plain(**kw: Any) -> dict[str, Any]:
        return fg.credit_grant(PLAIN, CUS, value=900, created=T0 + 20, shape=shape, **kw)

    return [
        ev("customer.created", f.customer(CUS, account_ref=ACCT), T0),
        # Same second: created, then renamed.
        ev("billing.credit_grant.created", grant(), T0 + 1),
        ev("billing.credit_grant.updated", grant(name="Renamed"), T0 + 1),
        ev("billing.credit_grant.updated", grant(name="Renamed", expires_at=T0 + 999), T0 + 10),
        # Voided; a stale same-second update must not bring it back.
        ev(
            "billing.credit_grant.updated",
            grant(name="Renamed", expires_at=T0 + 999, voided_at=T0 + 30),
            T0 + 30,
        ),
        ev("billing.credit_grant.updated", grant(name="Renamed", expires_at=T0 + 999), T0 + 30),
        ev("billing.credit_grant.created", plain(), T0 + 20),
        ev("billing.credit_grant.updated", plain(name="Second"), T0 + 20),
    ]
