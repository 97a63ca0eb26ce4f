"""Body and answer of the ops API's backfill route (documented in the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from domain.input_types import Ident
from domain.ops.filters import Since
from ingest.ops_schemas import Body, Reason

# At most this many event types per run (Stripe's `types[]` filter takes 20).
EventTypes = Annotated[list[Ident], Field(max_length=20)]


class BackfillRequest(Body):
    """Start (`since`) or continue (`resume`) a backfill; each call pages at most `max_pages`."""

    since: Since | None = Field(default=None, description="6h, 2d or an ISO date/time; 30 days")
    resume: bool = False
    types: EventTypes = Field(default_factory=list)
    undelivered_only: bool = False
    max_pages: int = Field(default=10, ge=1, le=100, description="pages this call may fetch")
    page_size: int = Field(default=100, ge=1, le=100)
    reason: Reason | None = None


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
