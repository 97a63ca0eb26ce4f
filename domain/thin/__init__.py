"""Thin (v2) events: one dispatch table, THIN_REGISTRY, built from the handler modules.

Adding a thin event type is one entry in a module's REGISTRATIONS (see docs/events.md).
Thin types no module declares are stored and marked `ignored`, like unknown snapshot types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from domain.thin import meter_errors
from domain.thin.registration import Counts, Fetch, ThinHandler, ThinRegistration

__all__ = ["THIN_REGISTRY", "Counts", "Fetch", "ThinHandler", "ThinRegistration"]


def build_thin_registry(
    modules: Iterable[Mapping[str, ThinRegistration]],
) -> dict[str, ThinRegistration]:
    """thin event type -> its registration; a type declared twice is a bug."""
    registry: dict[str, ThinRegistration] = {}
    for registrations in modules:
        for event_type, registration in registrations.items():
            if event_type in registry:
                raise ValueError(f"thin event type {event_type} is declared twice")
            registry[event_type] = registration
    return registry


THIN_REGISTRY: dict[str, ThinRegistration] = build_thin_registry([meter_errors.REGISTRATIONS])
