"""The Stripe object families the mirror follows, and the one dispatch table built from them.

Adding a family is one line in FAMILIES (see docs/families.md). REGISTRY holds one
registration (handler + batch targets) per event type; event types no family declares are
stored and marked `ignored`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain.mirror.families import (
    checkout,
    customers,
    entitlements,
    invoices,
    payment_methods,
    prices,
    products,
    schedules,
    subscriptions,
)
from domain.mirror.families._family import Family
from domain.mirror.unit import Registration

FAMILIES: tuple[Family[Any, Any, Any], ...] = (
    checkout.FAMILY,
    customers.FAMILY,
    invoices.FAMILY,
    payment_methods.FAMILY,
    subscriptions.FAMILY,
    schedules.FAMILY,
    products.FAMILY,
    prices.FAMILY,
    entitlements.FAMILY,
)


def build_registry(families: Iterable[Family[Any, Any, Any]]) -> dict[str, Registration]:
    """event type -> its family's registration; an event type claimed twice is a bug."""
    registry: dict[str, Registration] = {}
    for family in families:
        for event_type, registration in family.registrations().items():
            if event_type in registry:
                raise ValueError(f"{event_type} is declared by two families")
            registry[event_type] = registration
    return registry


REGISTRY: dict[str, Registration] = build_registry(FAMILIES)
