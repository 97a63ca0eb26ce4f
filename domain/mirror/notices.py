"""Notifications an event produces: each family's `notices` is a pure function of the event.

They depend on the event, never on the arrival order, so every ordering of the same events
yields the same set, and (event_id, kind) being unique makes replays write nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class Notice:
    """A notification to write to the outbox; `kind` is a member of its family's kinds."""

    kind: StrEnum
    payload: dict[str, Any]
    # The customer, when the event's object does not name it (a refund or dispute: found
    # through its charge); None: the customer of the family's `refs`.
    customer_id: str | None = None


def iso(value: datetime | None) -> str | None:
    """A timestamp as payloads carry it (ISO 8601), or None."""
    return value.isoformat() if value else None
