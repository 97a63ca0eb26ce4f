"""Which Stripe event types the service handles, and which ones Stripe can send at all."""

from __future__ import annotations

import typing
from typing import Any


def handled_event_types() -> frozenset[str]:
    """The event types with a registered handler (families REGISTRY, else workers HANDLERS)."""
    registry: Any
    try:
        from domain.mirror.families import REGISTRY as registry
    except ModuleNotFoundError as exc:
        if exc.name not in ("domain.mirror.families", "domain.mirror"):
            raise  # the registry exists but one of its imports is broken: say so
        from workers.handlers import HANDLERS as registry
    return frozenset(registry)


def stripe_event_types() -> frozenset[str]:
    """Every (snapshot) event type the installed Stripe SDK declares for `Event.type`."""
    import stripe

    hints = typing.get_type_hints(stripe.Event)
    return frozenset(typing.get_args(hints["type"]))
