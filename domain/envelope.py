"""The Stripe event envelope parsed into a typed, frozen view (no SDK involved).

Two envelopes arrive at the webhook: the snapshot (v1) event, `object: "event"`, with the
object in `data.object` and an integer `created`; and the thin (v2) event, `object:
"v2.core.event"`, with no `data`, a `related_object` reference (or null) and an RFC 3339
`created`. Both parse into one EventEnvelope; `thin` says which it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import String, Table

from domain.models import StripeEvent


class EnvelopeError(ValueError):
    """The body is not a Stripe event: `code` is the machine-readable reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


THIN_OBJECT = "v2.core.event"  # the `object` of a thin (v2) event


@dataclass(frozen=True, slots=True)
class RelatedObject:
    """A thin event's reference to the object it is about; `url` is an API path."""

    id: str
    type: str
    url: str


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
    thin: bool = False  # a v2 thin event: no data; fetch it (or related_object) to learn more
    related_object: RelatedObject | None = None
    context: str | None = None  # a thin event's authentication context (Stripe-Context)

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
    if doc.get("object") == THIN_OBJECT:  # one dict lookup on the snapshot path
        return _thin_envelope(doc, event_id, event_type)
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


def _thin_envelope(doc: dict[str, Any], event_id: str, event_type: str) -> EventEnvelope:
    related = _related_object(doc.get("related_object"))
    return EventEnvelope(
        event_id=event_id,
        type=event_type,
        created=_rfc3339_seconds(doc.get("created")),
        api_version=None,  # thin payloads are unversioned
        livemode=doc.get("livemode") is True,
        account=None,
        object_type=related.type if related else None,
        object_id=related.id if related else None,
        data={},  # whatever a thin body carries beyond the envelope is fetched, not trusted
        thin=True,
        related_object=related,
        context=_opt_str(doc.get("context")),
    )


_RFC3339_CHARS = "0123456789-:.+TtZz"


def _rfc3339_seconds(value: Any) -> int:
    """`2024-09-26T17:46:22.134Z` -> its Unix second (floored); a thin event must have one."""
    if (
        isinstance(value, str)
        and 20 <= len(value) <= 40
        and value[10:11] in ("T", "t")
        and value.strip(_RFC3339_CHARS) == ""
    ):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if when.tzinfo is not None:
                return int(when.timestamp() // 1)
    raise EnvelopeError("invalid_event", "thin event has no valid RFC 3339 'created'")


def _related_object(value: Any) -> RelatedObject | None:
    """null, or {id, type, url} with url an API path (never a host to call out to)."""
    if value is None:
        return None
    if isinstance(value, dict):
        fields = value.get("id"), value.get("type"), value.get("url")
        if all(isinstance(f, str) and f for f in fields):
            related = RelatedObject(*cast(tuple[str, str, str], fields))
            if is_api_path(related.url):
                return related
    raise EnvelopeError(
        "invalid_event", "thin event's 'related_object' must be null or {id, type, url}"
    )


def is_api_path(url: str) -> bool:
    """A path on Stripe's API (`/v1/...`, `/v2/...`): no scheme, host, `..` or query tricks."""
    return (
        url.startswith(("/v1/", "/v2/"))
        and ".." not in url
        and all(c.isascii() and c.isprintable() and c not in " \\#?%@" for c in url)
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
_THIN_NAMES = {"data.object.object": "related_object.type", "data.object.id": "related_object.id"}
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
            name = _THIN_NAMES.get(name, name) if envelope.thin else name
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
