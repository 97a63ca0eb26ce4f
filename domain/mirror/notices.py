"""Notifications an event produces: each family's `notices` is a pure function of the event.

They depend on the event, never on the arrival order, so every ordering of the same events
yields the same set, and (event_id, kind) being unique makes replays write nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.mirror.statuses import NotificationKind


@dataclass(frozen=True, slots=True)
class Notice:
    """A notification to write to the outbox."""

    kind: NotificationKind
    payload: dict[str, Any]


def iso(value: datetime | None) -> str | None:
    """A timestamp as payloads carry it (ISO 8601), or None."""
    return value.isoformat() if value else None
