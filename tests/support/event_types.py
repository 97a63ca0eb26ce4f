"""Which Stripe event types the service handles, and which ones Stripe can send at all."""

from __future__ import annotations

import typing


def handled_event_types() -> frozenset[str]:
    """The event types with a registered handler (the families' REGISTRY)."""
    from domain.mirror.families import REGISTRY

    return frozenset(REGISTRY)


def stripe_event_types() -> frozenset[str]:
    """Every (snapshot) event type the installed Stripe SDK declares for `Event.type`."""
    import stripe

    hints = typing.get_type_hints(stripe.Event)
    return frozenset(typing.get_args(hints["type"]))
