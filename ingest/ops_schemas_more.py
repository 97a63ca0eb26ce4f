"""Bodies of the ops API's backfill and commands routes (documented in the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackfillRequest(_Body):
    """Start (`since`) or continue (`resume`) a backfill; each call pages at most `max_pages`."""

    since: str | None = Field(
        default=None, description="6h, 2d or an ISO date/time; 30 days ago at most"
    )
    resume: bool = False
    types: list[str] = Field(default_factory=list, max_length=20)
    undelivered_only: bool = False
    max_pages: int = Field(default=10, ge=1, le=100, description="pages this call may fetch")
    page_size: int = Field(default=100, ge=1, le=100)
    reason: str | None = Field(default=None, max_length=2000)


class BackfillResponse(BaseModel):
    """Run totals (over every call), what this call added, and whether the window is done."""

    run_id: int
    audit_id: int | None
    window_start: int
    window_end: int
    types: list[str]
    undelivered_only: bool
    status: str = Field(description="running (call again with resume), done, superseded")
    complete: bool
    pages: int
    seen: int
    new: int
    already_had: int
    oldest_created: int | None
    added_now: list[str]
    invalid_now: int
    stopped: str | None = Field(description="max_pages, error, conflict; null when finished")
    error: str | None
    publish_failed: bool
    seconds: float


class CommandSummary(BaseModel):
    seq: int
    id: str
    type: str
    account_ref: str
    status: str
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None


class CommandPage(BaseModel):
    """Newest first; pass `next_before` as `before` for the next page."""

    data: list[CommandSummary]
    next_before: int | None


class CommandRetryAudit(BaseModel):
    id: int
    at: datetime
    actor: str
    via: str
    action: str
    reason: str | None


class CommandDetail(CommandSummary):
    principal: str
    params: dict[str, Any] = Field(description="personal fields redacted")
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    started_at: datetime | None
    retries: list[CommandRetryAudit]


class CommandRetryRequest(_Body):
    """Optional body of a retry: why (audited), or only report what would happen."""

    reason: str | None = Field(default=None, max_length=2000)
    dry_run: bool = False


class CommandRetryResponse(BaseModel):
    dry_run: bool
    count: int
    by_type: dict[str, int]
    audit_id: int | None
    retried: list[str]
    skipped: dict[str, str]
    publish_failed: bool
