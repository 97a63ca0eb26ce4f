"""Meter errors Stripe reports as thin events: a `usage_report_failed` notification each.

`v1.billing.meter.error_report_triggered` (invalid usage events for a meter) and
`v1.billing.meter.no_meter_found` (usage events naming no known meter) carry, once fetched
from `GET /v2/core/events/{id}`, `data.reason.error_types[]` (`code`, `error_count`,
`sample_errors[]`) and the window `data.validation_start` .. `validation_end`. The
notification keeps the meter id, the codes and counts and the window: never the sample
errors, whose messages and identifiers can repeat the usage payload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from domain.envelope import EventEnvelope
from domain.mirror.outbox import add_notification
from domain.mirror.unit import Unit
from domain.thin.registration import Counts, Fetch, ThinRegistration
from domain.types import utcnow

ERROR_REPORT_TRIGGERED = "v1.billing.meter.error_report_triggered"
NO_METER_FOUND = "v1.billing.meter.no_meter_found"
METER_OBJECT = "billing.meter"
MAX_ERROR_TYPES = 50  # Stripe has a handful of codes; a longer list is cut, not stored whole
UNRECOGNIZED = "unrecognized"  # a code that is not a plain identifier (metric label safety)
_CODE = re.compile(r"[a-z0-9_]{1,64}")


class MeterNotice(StrEnum):
    USAGE_REPORT_FAILED = "usage_report_failed"


class FetchedEventMismatch(ValueError):
    """The fetched event is not the one the thin event announced."""


@dataclass(frozen=True, slots=True)
class MeterErrorReport:
    """What one meter error event says, without personal data."""

    meter_id: str | None
    error_count: int
    errors: tuple[tuple[str, int], ...]  # (code, count), by code
    window_start: str | None
    window_end: str | None

    def payload(self, event_type: str) -> dict[str, Any]:
        return {
            "event_type": event_type,
            "meter": self.meter_id,
            "error_count": self.error_count,
            "errors": [{"code": code, "count": count} for code, count in self.errors],
            "window": {"start": self.window_start, "end": self.window_end},
        }


def read_report(envelope: EventEnvelope, fetched: dict[str, Any]) -> MeterErrorReport:
    """The report in a fetched v2 event (pure; tolerant of missing or odd fields)."""
    if fetched.get("id") != envelope.event_id:
        raise FetchedEventMismatch("the fetched event's id is not the thin event's")
    data = _dict(fetched.get("data"))
    reason = _dict(data.get("reason"))
    counts: dict[str, int] = {}
    types = reason.get("error_types")
    for item in (types if isinstance(types, list) else [])[:MAX_ERROR_TYPES]:
        item = _dict(item)
        code = item.get("code")
        code = code if isinstance(code, str) and _CODE.fullmatch(code) else UNRECOGNIZED
        counts[code] = counts.get(code, 0) + _count(item.get("error_count"))
    total = _count(reason.get("error_count")) or sum(counts.values())
    related = envelope.related_object
    meter = related.id if related is not None and related.type == METER_OBJECT else None
    return MeterErrorReport(
        meter_id=meter,
        error_count=total,
        errors=tuple(sorted(counts.items())),
        window_start=_timestamp(data.get("validation_start")),
        window_end=_timestamp(data.get("validation_end")),
    )


def notify_usage_report_failed(
    unit: Unit, envelope: EventEnvelope, fetched: dict[str, Any]
) -> Counts:
    """One `usage_report_failed` notification per event (a replay adds none)."""
    report = read_report(envelope, fetched)
    add_notification(
        unit.session,
        kind=MeterNotice.USAGE_REPORT_FAILED,
        event_id=envelope.event_id,
        event_created=envelope.created,
        object_type=METER_OBJECT,
        object_id=report.meter_id,
        customer_id=None,
        payload=report.payload(envelope.type),
        now=utcnow(),
    )
    return dict(report.errors)


REGISTRATIONS: dict[str, ThinRegistration] = {
    ERROR_REPORT_TRIGGERED: ThinRegistration(notify_usage_report_failed, Fetch.EVENT),
    NO_METER_FOUND: ThinRegistration(notify_usage_report_failed, Fetch.EVENT),
}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _timestamp(value: Any) -> str | None:
    """An RFC 3339 timestamp as UTC ISO 8601 (seconds), or None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
