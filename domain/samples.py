"""Realistic Stripe events built from Stripe's own published example objects."""

from __future__ import annotations

import copy
import secrets
import time
from functools import cache
from importlib import resources
from typing import Any

import orjson

CURRENT_API_VERSION = "2025-03-31.basil"


@cache
def _resources() -> dict[str, dict[str, Any]]:
    data = resources.files("domain.fixtures").joinpath("fixtures3.json").read_bytes()
    return orjson.loads(data)["resources"]  # type: ignore[no-any-return]


def resource_for(event_type: str) -> str | None:
    """The fixture resource an event is about: customer.subscription.updated -> subscription."""
    prefix = event_type.rsplit(".", 1)[0] if "." in event_type else event_type
    known = _resources()
    for candidate in (prefix, prefix.rsplit(".", 1)[-1]):
        if candidate in known:
            return candidate
    return None


def example_object(resource: str) -> dict[str, Any]:
    """A deep copy of Stripe's example object for `resource`."""
    return copy.deepcopy(_resources()[resource])


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def build_event(
    event_type: str,
    obj: dict[str, Any] | None = None,
    *,
    event_id: str | None = None,
    created: int | None = None,
    api_version: str = CURRENT_API_VERSION,
    previous_attributes: dict[str, Any] | None = None,
    account: str | None = None,
) -> dict[str, Any]:
    """Wrap `obj` (or the example object for the type) in an event envelope."""
    if obj is None:
        resource = resource_for(event_type)
        if resource is None:
            raise KeyError(f"no example object for event type {event_type!r}")
        obj = example_object(resource)
    event: dict[str, Any] = {
        "id": event_id or new_id("evt"),
        "object": "event",
        "api_version": api_version,
        "created": int(time.time()) if created is None else created,
        "type": event_type,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": obj},
    }
    if previous_attributes is not None:
        event["data"]["previous_attributes"] = previous_attributes
    if account is not None:
        event["account"] = account
    return event
