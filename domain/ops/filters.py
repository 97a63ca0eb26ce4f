"""Filters ops use to select dead letters and events, and parsing of `--since` values."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema
from sqlalchemy import ColumnElement, or_

from domain.event_log import DEAD, EVENTS
from domain.models import EventStatus

_RELATIVE = re.compile(r"^\s*(\d{1,12})\s*([smhdw])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
MAX_LOOKBACK = timedelta(days=36_525)  # 100 years: far past any retention, far from overflow
HINT = "use 2h, 30m, 7d or an ISO date like 2026-11-20T10:00"


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`2h`, `30m`, `7d` (ago) or an ISO date/datetime (UTC unless it says otherwise).

    Always an aware UTC datetime; ValueError (never OverflowError) for a duration past
    MAX_LOOKBACK or a time that leaves datetime's range once converted to UTC.
    """
    if len(value) > 64:
        raise ValueError(f"not a time: {HINT}")
    match = _RELATIVE.match(value)
    if match:
        seconds = int(match.group(1)) * _SECONDS[match.group(2)]
        if seconds > MAX_LOOKBACK.total_seconds():
            raise ValueError("at most 100 years ago")
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {HINT}") from None
    return to_utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def to_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; ValueError for a naive one or one UTC cannot represent."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a UTC offset")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range once converted to UTC") from None


def _since(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"a string: {HINT}")
    return parse_since(value)


# A `since` field of a request: validated (and converted) by parse_since, documented as text.
Since = Annotated[
    datetime,
    BeforeValidator(_since),
    WithJsonSchema({"type": "string", "maxLength": 64, "description": f"how far back: {HINT}"}),
]


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
