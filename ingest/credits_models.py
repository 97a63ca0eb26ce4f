"""Request and response models of the credits and usage API (validation and OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.input_types import INT64_MAX, Ident, NoNul
from domain.usage.records import METER_LENGTH
from ingest.openapi import ErrorBody

CONSUME_ID_LENGTH = 240  # stored as consume:<id> and overage:<id> in 255-character columns
MAX_CREDITS = 10**12
MAX_USAGE_RECORDS = 1000
MAX_QUANTITY = INT64_MAX

ConsumeId = Annotated[str, StringConstraints(min_length=1, max_length=CONSUME_ID_LENGTH), NoNul]
Meter = Annotated[str, StringConstraints(min_length=1, max_length=METER_LENGTH), NoNul]


class ConsumeRequest(BaseModel):
    """Spend credits of an account, once per `id` (the same id again: the first answer)."""

    model_config = ConfigDict(extra="forbid")

    id: ConsumeId = Field(description="unique per consumption: the idempotency id")
    account_ref: Ident
    credits: int = Field(strict=True, ge=1, le=MAX_CREDITS, description="credits to spend")
    meter: Meter | None = Field(
        default=None,
        description="the meter overage is billed on (default: the plan catalog's `meter`)",
    )


class ConsumeAnswer(BaseModel):
    """200: the credits were spent (with pay-as-you-go, the shortfall is `overage`)."""

    remaining: int
    overage: int = Field(description="credits beyond the balance, billed as metered usage")
    payg: bool


class CreditsExhausted(ErrorBody):
    """402 `credits_exhausted`: the balance is short and pay-as-you-go is off; nothing spent."""

    remaining: int
    requested: int
    payg: bool


class CreditsOut(BaseModel):
    """An account's credits now and this period's totals."""

    account_ref: str
    balance: int
    payg: bool
    period_start: datetime | None
    period_end: datetime | None
    granted: int = Field(description="granted this period (allowance, manual, adjustments)")
    consumed: int = Field(description="spent from the balance this period")
    overage: int = Field(description="spent beyond the balance this period (pay-as-you-go)")


class LedgerEntryOut(BaseModel):
    """One ledger entry (credits signed: + grant, - consume or expire)."""

    entry_id: str
    kind: str
    credits: int
    overage: int
    source: str
    reason: str | None
    expires_at: datetime | None
    subscription_id: str | None
    period_start: datetime | None
    period_end: datetime | None
    created_at: datetime


class LedgerPage(BaseModel):
    """Newest first; pass `next_cursor` as `cursor` for the next (older) page."""

    data: list[LedgerEntryOut]
    has_more: bool
    next_cursor: str | None


class LedgerQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=100, description="page size")
    cursor: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,19}$",
        description="`next_cursor` of the previous page",
    )


class UsageRecordIn(BaseModel):
    """One unit of use; `timestamp` is Unix seconds or ISO 8601 with an offset."""

    model_config = ConfigDict(extra="forbid")

    id: Ident = Field(description="the product's record id: a record is stored once per id")
    account_ref: Ident
    meter: Meter = Field(description="the Stripe meter's event_name")
    quantity: int = Field(strict=True, ge=0, le=MAX_QUANTITY)
    timestamp: datetime


class UsageRequest(BaseModel):
    """Up to 1,000 records; each is checked on its own (the valid ones are stored)."""

    model_config = ConfigDict(extra="forbid")

    records: list[UsageRecordIn] = Field(min_length=1, max_length=MAX_USAGE_RECORDS)


class UsageEnvelope(BaseModel):
    """What is validated as a whole; each record is then validated alone (its own reason)."""

    model_config = ConfigDict(extra="forbid")

    records: list[Any] = Field(min_length=1, max_length=MAX_USAGE_RECORDS)


class RejectedRecord(BaseModel):
    index: int
    id: str | None
    reason: str


class UsageAnswer(BaseModel):
    """202: `accepted` stored now, `duplicate` stored before (same id), `rejected` with why."""

    accepted: int
    duplicate: int
    rejected: list[RejectedRecord]
