"""Filters ops use to select dead letters and events, and parsing of `--since` values."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_

from domain.event_log import DEAD, EVENTS
from domain.models import EventStatus

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`2h`, `30m`, `7d` (ago) or an ISO date/datetime (UTC unless it says otherwise)."""
    match = _RELATIVE.match(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"not a time: {value!r} (use 2h, 30m, 7d or an ISO date like 2026-11-20T10:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class DeadLetterFilter:
    """Which dead letters: by event type, failed since, error text (type or message)."""

    event_type: str | None = None
    since: datetime | None = None
    error: str | None = None

    @property
    def is_empty(self) -> bool:
        return self.event_type is None and self.since is None and not self.error

    def conditions(self) -> list[ColumnElement[bool]]:
        """WHERE terms over dead_letters joined to stripe_events."""
        terms: list[ColumnElement[bool]] = []
        if self.event_type:
            terms.append(EVENTS.c.type == self.event_type)
        if self.since:
            terms.append(DEAD.c.failed_at >= self.since)
        if self.error:
            terms.append(
                or_(
                    DEAD.c.error_type.icontains(self.error, autoescape=True),
                    DEAD.c.error_message.icontains(self.error, autoescape=True),
                )
            )
        return terms

    def describe(self) -> dict[str, Any]:
        """JSON-able form for the audit trail."""
        return {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in asdict(self).items()
            if v is not None
        }


@dataclass(frozen=True)
class EventFilter:
    """Which events: by status, type, received since, source (webhook, backfill, ...)."""

    status: EventStatus | None = None
    event_type: str | None = None
    since: datetime | None = None
    source: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """WHERE terms over stripe_events."""
        c = EVENTS.c
        terms: list[ColumnElement[bool]] = []
        if self.status:
            terms.append(c.status == self.status)
        if self.event_type:
            terms.append(c.type == self.event_type)
        if self.since:
            terms.append(c.received_at >= self.since)
        if self.source:
            terms.append(c.source == self.source)
        return terms
