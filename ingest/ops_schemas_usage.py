"""Query, body and answers of the ops API's rejected usage routes (in the OpenAPI document)."""

from __future__ import annotations

import base64
from datetime import datetime

import orjson
from pydantic import BaseModel, Field

from domain.input_types import Ident
from ingest.credits_models import Meter
from ingest.ops_schemas import Body, ErrorText, EventCursor, ListQuery, Reason

# The same cursor shape as the events list: (time, id), here the (rejected_at, record id).
RejectedCursor = EventCursor


def encode_rejected_cursor(rejected_at: datetime, record_id: str) -> str:
    """The `next_cursor` after the record rejected at `rejected_at` with this id."""
    return base64.urlsafe_b64encode(orjson.dumps([rejected_at.isoformat(), record_id])).decode()


class RejectedUsageQuery(ListQuery):
    """`GET /v1/ops/usage/rejected`."""

    account_ref: Ident | None = None
    meter: Meter | None = Field(default=None, description="the meter's event_name")
    reason_contains: ErrorText | None = Field(
        default=None, description="the rejection reason contains this (any case)"
    )
    cursor: RejectedCursor | None = Field(default=None, description="next_cursor of the last page")


class RejectedUsageOut(BaseModel):
    id: str
    account_ref: str
    meter: str
    quantity: int
    occurred_at: datetime
    rejected_at: datetime | None
    reason: str | None = Field(description="why: Stripe's type, code and message, or ours")


class RejectedUsagePage(BaseModel):
    """Newest rejection first; pass `next_cursor` as `cursor` for the next page."""

    data: list[RejectedUsageOut]
    next_cursor: str | None


class UsageReplayRequest(Body):
    """Which rejected records: ids, or a filter, or `all: true`; why (required, audited).

    `dry_run` is true unless set false: the first call shows what would be replayed.
    """

    reason: Reason = Field(min_length=1, description="why (kept in the audit trail)")
    dry_run: bool = True
    ids: list[Ident] = Field(default_factory=list, max_length=1000)
    account_ref: Ident | None = None
    meter: Meter | None = None
    reason_contains: ErrorText | None = None
    all: bool = False


class UsageReplayResponse(BaseModel):
    """What a replay did (or, on a dry run, would do)."""

    dry_run: bool
    count: int
    by_meter: dict[str, int]
    audit_id: int | None
    record_ids: list[str] = Field(description="the records (the first 1,000)")
    skipped: dict[str, str] = Field(description="id -> why it was not replayed")
