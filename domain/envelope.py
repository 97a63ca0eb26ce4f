"""The Stripe event envelope parsed into a typed, frozen view (no SDK involved)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import orjson
from sqlalchemy import String, Table

from domain.models import StripeEvent


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
    if not isinstance(event_id, str) or not event_id:
        raise EnvelopeError("invalid_event", "event has no valid 'id'")
    if not isinstance(event_type, str) or not event_type:
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


# What the event log can hold, read from its table: (envelope field, name in the event, column).
_COLUMNS = cast(Table, StripeEvent.__table__).c
_LENGTH_LIMITS: tuple[tuple[str, str, int], ...] = tuple(
    (field, name, length)
    for field, name, column in (
        ("event_id", "id", _COLUMNS.event_id),
        ("type", "type", _COLUMNS.type),
        ("api_version", "api_version", _COLUMNS.api_version),
        ("account", "account", _COLUMNS.account),
        ("object_type", "data.object.object", _COLUMNS.object_type),
        ("object_id", "data.object.id", _COLUMNS.object_id),
    )
    if (length := cast(String, column.type).length) is not None  # unbounded text: no limit
)
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1  # event_created is a BIGINT


def ensure_storable(envelope: EventEnvelope, raw: bytes) -> None:
    """Raise EnvelopeError("unstorable_event") for an event the database could never store.

    Checked before the event joins a group-commit batch, where it would fail the batch:
    values over their column's length, a `created` outside BIGINT, and NUL characters,
    which Postgres refuses in text and jsonb (the workers store the payload's strings).
    """
    for field, name, limit in _LENGTH_LIMITS:
        value = getattr(envelope, field)
        if value is not None and len(value) > limit:
            raise EnvelopeError("unstorable_event", f"'{name}' is longer than {limit} characters")
    if not _BIGINT_MIN <= envelope.created <= _BIGINT_MAX:
        raise EnvelopeError("unstorable_event", "'created' is outside the 64-bit integer range")
    # A NUL can only come from a \u0000 escape (JSON forbids raw control characters); the
    # text can also appear escaped itself ("\\u0000"), so the parsed values decide.
    if b"\\u0000" in raw and _contains_nul(orjson.loads(raw)):
        raise EnvelopeError("unstorable_event", "event contains a NUL character (\\u0000)")


def _contains_nul(doc: Any) -> bool:
    stack = [doc]  # iterative: orjson accepts nesting deeper than Python's recursion limit
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False
