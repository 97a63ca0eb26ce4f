"""Request and response bodies of the ops API (documented in the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReplayRequest(_Body):
    """Optional body of a single replay: why (kept in the audit trail)."""

    reason: str | None = Field(default=None, max_length=2000)
    dry_run: bool = False


class EventReplayRequest(ReplayRequest):
    """`force` re-runs an event that already succeeded (handlers are ordering-safe)."""

    force: bool = False


class BulkReplayRequest(ReplayRequest):
    """Which dead letters: ids, or a filter, or `all: true` (an empty selector is refused)."""

    ids: list[str] = Field(default_factory=list, max_length=1000)
    type: str | None = None
    since: str | None = Field(default=None, description="2h, 30m, 7d or an ISO date/time")
    error: str | None = Field(default=None, description="error type or message contains")
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
