"""Signed event bodies for posting to the webhook endpoint."""

from __future__ import annotations

import time
from typing import Any

import orjson

from domain.samples import build_event, new_id
from ingest.signature import sign_header
from tests.support.env import WEBHOOK_SECRET


def event_body(event_type: str = "test.recorded", **obj: Any) -> tuple[str, bytes]:
    """A unique event of `event_type` whose data.object holds `obj`; returns (id, body)."""
    event_id = new_id("evt")
    payload = {"id": new_id("obj"), "object": "test_object", **obj}
    body = orjson.dumps(build_event(event_type, payload, event_id=event_id))
    return event_id, body


def signed_headers(
    body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    return {
        "Stripe-Signature": sign_header(
            secret.encode(), body, int(time.time()) if timestamp is None else timestamp
        ),
        "Content-Type": "application/json",
    }
