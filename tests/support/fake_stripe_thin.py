"""The fake Stripe's thin (v2) events: stored in full, served by `GET /v2/core/events/{id}`,
and sent to the webhook endpoint thin (no `data`), signed like every event."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from domain.samples import new_id
from ingest.signature import sign_header
from tests.support.fake_stripe_store import Clock, missing

Obj = dict[str, Any]
ERROR_REPORT_TRIGGERED = "v1.billing.meter.error_report_triggered"
NO_METER_FOUND = "v1.billing.meter.no_meter_found"


def rfc3339(seconds: float) -> str:
    """Stripe's v2 timestamps: `2024-09-26T17:46:22.134Z`."""
    when = datetime.fromtimestamp(seconds, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def thin_body(event: Obj) -> bytes:
    """What Stripe posts to an event destination for a thin event: the envelope, no data."""
    return orjson.dumps({k: v for k, v in event.items() if k not in ("data", "changes")})


def meter_error_data(errors: dict[str, int], window: tuple[float, float] | None = None) -> Obj:
    """`data` of a meter error event: error_types with codes, counts and sample errors."""
    start, end = window or (time.time() - 60, time.time())
    return {
        "developer_message_summary": f"There are {sum(errors.values())} invalid events",
        "reason": {
            "error_count": sum(errors.values()),
            "error_types": [
                {
                    "code": code,
                    "error_count": count,
                    "sample_errors": [
                        {
                            "error_message": "Customer mapping key stripe_customer_id not found.",
                            "request": {"identifier": new_id("usage")},
                        }
                    ],
                }
                for code, count in errors.items()
            ],
        },
        "validation_start": rfc3339(start),
        "validation_end": rfc3339(end),
    }


class ThinEvents:
    """Thin events by id, with their data (what `GET /v2/core/events/{id}` answers)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self._lock = threading.Lock()
        self._events: dict[str, Obj] = {}

    def create(
        self,
        event_type: str,
        data: Obj | None = None,
        related_object: Obj | None = None,
        context: str | None = None,
    ) -> Obj:
        event: Obj = {
            "id": new_id("evt_test"),
            "object": "v2.core.event",
            "context": context,
            "created": rfc3339(self.clock.time()),
            "data": data,
            "livemode": False,
            "reason": None,
            "related_object": related_object,
            "type": event_type,
        }
        with self._lock:
            self._events[event["id"]] = event
        return event

    def meter_error(
        self, meter_id: str | None, errors: dict[str, int], event_type: str = ERROR_REPORT_TRIGGERED
    ) -> Obj:
        """A stored meter error event (related to the meter, when there is one)."""
        related = (
            {"id": meter_id, "type": "billing.meter", "url": f"/v1/billing/meters/{meter_id}"}
            if meter_id
            else None
        )
        return self.create(event_type, meter_error_data(errors), related)

    def get(self, event_id: str) -> Obj:
        with self._lock:
            event = self._events.get(event_id)
        if event is None:
            raise missing("event", event_id)
        return event


def send_thin_event(url: str, secret: str, event: Obj, timeout: float = 10.0) -> httpx.Response:
    """Post a thin event to a webhook endpoint, signed with `secret` (as Stripe does)."""
    body = thin_body(event)
    headers = {
        "Stripe-Signature": sign_header(secret.encode(), body, int(time.time())),
        "Content-Type": "application/json",
    }
    return httpx.post(url, content=body, headers=headers, timeout=timeout)
