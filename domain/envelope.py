"""The Stripe event envelope parsed into a typed, frozen view (no SDK involved)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


class EnvelopeError(ValueError):
    """The body is not a Stripe event: `code` is the machine-readable reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class EventEnvelope:
    """What the pipeline needs to know about an event before any handler runs."""

    event_id: str
    type: str
    created: int
    api_version: str | None
    livemode: bool
    account: str | None
    object_type: str | None
    object_id: str | None
    data: dict[str, Any]

    @property
    def object(self) -> dict[str, Any]:
        obj = self.data.get("object")
        return obj if isinstance(obj, dict) else {}

    @property
    def previous_attributes(self) -> dict[str, Any]:
        prev = self.data.get("previous_attributes")
        return prev if isinstance(prev, dict) else {}


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_envelope(raw: bytes | str) -> EventEnvelope:
    """Parse and validate a raw event body; raise EnvelopeError with a clear reason."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise EnvelopeError("invalid_json", "body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise EnvelopeError("invalid_event", "event must be a JSON object")
    event_id, event_type = doc.get("id"), doc.get("type")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
        raise EnvelopeError("invalid_event", "event has no valid 'id'")
    if not isinstance(event_type, str) or not event_type or len(event_type) > 255:
        raise EnvelopeError("invalid_event", "event has no valid 'type'")
    created = doc.get("created")
    if isinstance(created, bool) or not isinstance(created, int):
        created = 0
    data = doc.get("data")
    data = data if isinstance(data, dict) else {}
    obj = data.get("object")
    obj = obj if isinstance(obj, dict) else {}
    return EventEnvelope(
        event_id=event_id,
        type=event_type,
        created=created,
        api_version=_opt_str(doc.get("api_version")),
        livemode=bool(doc.get("livemode", False)),
        account=_opt_str(doc.get("account")),
        object_type=_opt_str(obj.get("object")),
        object_id=_opt_str(obj.get("id")),
        data=data,
    )
