"""Query parameters of the read API, validated by pydantic (and documented from the same models).

Unknown parameters are refused; ids and cursors are bounded to what the database can hold.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.input_types import Ident, Int64, is_ident
from domain.mirror import reads
from domain.mirror.statuses import InvoiceStatus, PaymentMethodStatus, SubscriptionStatus

MAX_LIMIT = 100


class ListQuery(BaseModel):
    """limit + cursor, shared by the paginated lists; unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=20, ge=1, le=MAX_LIMIT, description="page size")
    cursor: str | None = Field(
        default=None, max_length=1024, description="`next_cursor` of the previous page"
    )

    @field_validator("cursor")
    @classmethod
    def _cursor(cls, value: str | None) -> str | None:
        if value is not None:
            _, row_id = reads.decode_cursor(value)  # CursorError is a ValueError: a 422
            if not is_ident(row_id):
                raise reads.CursorError("not a cursor returned by this API")
        return value


class SubscriptionQuery(ListQuery):
    status: SubscriptionStatus | None = Field(default=None, description="only rows in this status")


class InvoiceQuery(ListQuery):
    status: InvoiceStatus | None = Field(default=None, description="only rows in this status")


class PaymentMethodQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: PaymentMethodStatus = Field(
        default=PaymentMethodStatus.ATTACHED, description="attached or detached"
    )


class NotificationQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: Int64 = Field(default=0, description="last id seen")
    limit: int = Field(default=20, ge=1, le=MAX_LIMIT, description="page size")
    account_ref: Ident | None = Field(default=None, description="only this account's")
