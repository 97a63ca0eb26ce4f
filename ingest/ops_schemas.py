"""Query and body models of the ops API's events and dead letters, and what they share.

Every text that reaches a query is a NUL-free bounded type, every integer cursor is bounded
by its column's range and every time is an aware datetime in range (domain.input_types,
domain.ops.filters.Since), so bad input is a 422 naming the field.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema, model_validator

from domain.input_types import Ident, Int32, NoNul, is_ident
from domain.models import EventStatus
from domain.ops.filters import Since, to_utc

MAX_LIMIT = 500
# Why an ops action was taken (kept in the audit trail).
Reason = Annotated[str, Field(max_length=2000), NoNul]
# A substring searched in error types and messages.
ErrorText = Annotated[str, Field(min_length=1, max_length=255), NoNul]


class Body(BaseModel):
    """An ops request body: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class ListQuery(BaseModel):
    """Query parameters of an ops list: unknown ones are refused, an empty one is absent."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=MAX_LIMIT, description="rows per page")

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v != ""}
        return data


def encode_event_cursor(row: dict[str, Any]) -> str:
    """The `next_cursor` after this event row: its (received_at, event_id)."""
    return base64.urlsafe_b64encode(
        orjson.dumps([row["received_at"].isoformat(), row["event_id"]])
    ).decode()


def decode_event_cursor(value: object) -> tuple[datetime, str]:
    """The (received_at, event_id) of a cursor from `encode_event_cursor`; ValueError if not."""
    refused = ValueError("not a cursor from a previous page")
    if not isinstance(value, str) or len(value) > 1024:
        raise refused
    try:
        at, event_id = orjson.loads(base64.urlsafe_b64decode(value))
        when = to_utc(datetime.fromisoformat(at))  # a naive time is not one we handed out
    except (ValueError, TypeError):
        raise refused from None
    if not isinstance(event_id, str) or not is_ident(event_id):
        raise refused
    return when, event_id


EventCursor = Annotated[
    tuple[datetime, str],
    PlainValidator(decode_event_cursor),
    WithJsonSchema({"type": "string", "maxLength": 1024}),
]


class DeadLetterQuery(ListQuery):
    """`GET /v1/ops/dead-letters`."""

    type: Ident | None = Field(default=None, description="event type")
    since: Since | None = None
    error: ErrorText | None = Field(default=None, description="error type or message contains")
    before: Int32 | None = Field(default=None, description="page: dead-letter ids below this")
    include_replayed: bool = Field(default=False, description="also replayed ones")


class EventQuery(ListQuery):
    """`GET /v1/ops/events`."""

    status: EventStatus | None = None
    type: Ident | None = Field(default=None, description="event type")
    since: Since | None = None
    source: Ident | None = Field(default=None, description="webhook, backfill, ...")
    cursor: EventCursor | None = Field(default=None, description="next_cursor of the last page")


class ReplayRequest(Body):
    """Optional body of a single replay: why (kept in the audit trail)."""

    reason: Reason | None = None
    dry_run: bool = False


class EventReplayRequest(ReplayRequest):
    """`force` re-runs an event that already succeeded (handlers are ordering-safe)."""

    force: bool = False


class BulkReplayRequest(ReplayRequest):
    """Which dead letters: ids, or a filter, or `all: true` (an empty selector is refused)."""

    ids: list[Ident] = Field(default_factory=list, max_length=1000)
    type: Ident | None = None
    since: Since | None = None
    error: ErrorText | None = Field(default=None, description="error type or message contains")
    all: bool = False


class ReplayResponse(BaseModel):
    """What a replay did (or, on a dry run, would do)."""

    dry_run: bool
    count: int
    by_type: dict[str, int]
    audit_id: int | None
    replayed: list[str]
    skipped: dict[str, str] = Field(description="id -> why it was not replayed")
    publish_failed: bool


class DeadLetterSummary(BaseModel):
    id: int
    event_id: str
    type: str
    status: str
    failed_at: datetime
    attempts: int
    error_type: str
    error_message: str
    replay_count: int
    last_replayed_at: datetime | None
    last_replayed_by: str | None


class DeadLetterPage(BaseModel):
    """Newest first; pass `next_before` as `before` for the next page."""

    data: list[DeadLetterSummary]
    next_before: int | None


class Attempt(BaseModel):
    attempt: int
    failed_at: datetime
    error_type: str
    message: str


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    via: str
    action: str
    reason: str | None
    event_count: int
    previous_status: str


class EventSummary(BaseModel):
    event_id: str
    type: str
    status: str
    source: str
    attempts: int
    received_at: datetime
    processed_at: datetime | None
    last_error: str | None
    object_type: str | None
    object_id: str | None
    event_created: int
    api_version: str | None


class EventPage(BaseModel):
    """Newest first; pass `next_cursor` as `cursor` for the next page."""

    data: list[EventSummary]
    next_cursor: str | None


class EventDetail(EventSummary):
    payload_summary: dict[str, Any]
    dead_letter: dict[str, Any] | None
    attempt_history: list[Attempt]
    replays: list[AuditEntry]


class DeadLetterDetail(DeadLetterSummary):
    traceback: str
    event: dict[str, Any]
    attempt_history: list[Attempt]
    replays: list[AuditEntry]


class StatsResponse(BaseModel):
    by_status: dict[str, int]
    by_type: dict[str, dict[str, int]]
    backlog: dict[str, int]
    oldest_unprocessed_age_seconds: float | None
    dead_letters: int
    dead_letters_by_error: dict[str, int]
    commands_by_status: dict[str, dict[str, int]] | None
    dead_commands: int | None
    notifications_by_status: dict[str, int] | None
