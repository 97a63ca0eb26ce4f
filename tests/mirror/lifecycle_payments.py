"""The payments group's lifecycle as Stripe events (fixed ids and seconds), in either shape.

A card payment: requires_action (3-D Secure), then processing and succeeded in the same
second as its charge (and, from API 2025-03-31, the invoice payment linking it to its
invoice); a second payment that fails (intent and charge in one second); later a partial
refund (pending, then succeeded in the same second as charge.refunded) and a dispute of
the paid charge.
"""

from __future__ import annotations

from typing import Any

from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror import factory_payments as p

T0 = 1_715_000_000
CUS, PI, CH, INV = "cus_plife", "pi_plife", "ch_plife", "in_plife"
PI_FAIL, CH_FAIL = "pi_plife_fail", "ch_plife_fail"
RE = "re_plife"
DP = "dp_plife"
REFUNDED = 1000


def payments_lifecycle(shape: ApiShape, prefix: str = "evt_plife") -> list[dict[str, Any]]:
    """The events in the order Stripe created them."""
    n = iter(range(100))

    def ev(event_type: str, obj: dict[str, Any], at: int, **kw: Any) -> dict[str, Any]:
        return f.event(event_type, obj, at, shape=shape, event_id=f"{prefix}_{next(n):02d}", **kw)

    def intent(status: str, **kw: Any) -> dict[str, Any]:
        return p.payment_intent(PI, CUS, status, shape=shape, invoice=INV, created=T0, **kw)

    def charge(**kw: Any) -> dict[str, Any]:
        return p.charge(CH, CUS, shape=shape, payment_intent=PI, invoice=INV, created=T0 + 30, **kw)

    paid = T0 + 30
    events = [
        ev("payment_intent.requires_action", intent("requires_action"), T0),
        # Same second: 3-D Secure done, processing and succeeded, the charge with them.
        ev("payment_intent.processing", intent("processing"), paid),
        ev("payment_intent.succeeded", intent("succeeded", latest_charge=CH), paid),
        ev("charge.succeeded", charge(), paid),
    ]
    if shape is ApiShape.CURRENT:  # invoice payments exist from API 2025-03-31 on
        link = p.invoice_payment("inpay_plife", INV, payment_intent=PI, created=T0)
        events.append(ev("invoice_payment.paid", link, paid))
    failed = T0 + 100
    error = p.card_error()
    events += [
        ev(
            "payment_intent.payment_failed",
            p.payment_intent(
                PI_FAIL, CUS, "requires_payment_method", shape=shape, error=error, created=failed
            ),
            failed,
        ),
        ev(
            "charge.failed",
            p.charge(
                CH_FAIL,
                CUS,
                "failed",
                shape=shape,
                payment_intent=PI_FAIL,
                failure=("card_declined", "Your card was declined."),
                created=failed,
            ),
            failed,
        ),
    ]
    events += refund_events(shape, ev, charge)
    events += dispute_events(ev)
    return events


def dispute_events(ev: Any) -> list[dict[str, Any]]:
    """A dispute of the paid charge: created and funds withdrawn in one second; evidence
    submitted; closed as lost in the same second as a (stale-looking) update."""
    opened, closed = T0 + 400, T0 + 400 + 9 * 86_400

    def dispute(status: str, movements: int) -> dict[str, Any]:
        return p.dispute(
            DP, CH, status, payment_intent=PI, funds_movements=movements, created=opened
        )

    return [
        ev("charge.dispute.created", dispute("needs_response", 0), opened),
        ev("charge.dispute.funds_withdrawn", dispute("needs_response", 1), opened),
        ev("charge.dispute.updated", dispute("under_review", 1), opened + 86_400),
        ev("charge.dispute.updated", dispute("under_review", 1), closed),
        ev("charge.dispute.closed", dispute("lost", 1), closed),
    ]


def refund_events(shape: ApiShape, ev: Any, charge: Any) -> list[dict[str, Any]]:
    """A partial refund, pending then succeeded; the charge reports it in the same second.

    From API 2024-10-28 refund.* events cover charge refunds (and charge.refund.updated
    repeats refund.updated); before, charge.refunded (embedding its refunds in old
    versions) and charge.refund.updated were all there was.
    """
    created, done = T0 + 200, T0 + 260

    def refund(status: str) -> dict[str, Any]:
        return p.refund(RE, CH, status, payment_intent=PI, amount=REFUNDED, created=created)

    was_pending = {"status": "pending"}
    refunded = charge(amount_refunded=REFUNDED)
    if shape is ApiShape.CURRENT:
        return [
            ev("refund.created", refund("pending"), created),
            ev("refund.updated", refund("succeeded"), done, previous=was_pending),
            ev("charge.refund.updated", refund("succeeded"), done, previous=was_pending),
            ev("charge.refunded", refunded, done),
        ]
    embedding = charge(amount_refunded=REFUNDED, refunds=[refund("pending")])
    return [
        # Same second: the charge embeds the refund still pending; the update says succeeded.
        ev("charge.refunded", embedding, done),
        ev("charge.refund.updated", refund("succeeded"), done, previous=was_pending),
    ]
