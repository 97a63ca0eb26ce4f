"""Query, bodies and answers of the ops API's commands routes (in the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.commands.models import CommandStatus
from domain.input_types import Ident, Int64
from domain.ops.filters import Since
from ingest.ops_schemas import Body, ListQuery, Reason


class CommandQuery(ListQuery):
    """`GET /v1/ops/commands`."""

    status: CommandStatus | None = None
    type: Ident | None = Field(default=None, description="command type")
    since: Since | None = None
    before: Int64 | None = Field(default=None, description="page: commands with seq below this")


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


class CommandRetryRequest(Body):
    """Optional body of a retry: why (audited), or only report what would happen."""

    reason: Reason | None = None
    dry_run: bool = False


class CommandRetryResponse(BaseModel):
    dry_run: bool
    count: int
    by_type: dict[str, int]
    audit_id: int | None
    retried: list[str]
    skipped: dict[str, str]
    publish_failed: bool
