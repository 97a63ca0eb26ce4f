"""Query parameters of the read API, validated by pydantic (and documented from the same models).

Unknown parameters are refused; ids and cursors are bounded to what the database can hold.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from domain.input_types import Ident, Int64, is_ident
from domain.mirror import reads
from domain.mirror.families._read import Listing

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


def listing_query(listing: Listing) -> type[BaseModel]:
    """The query model of a family's list route, from its listing (ListQuery when paginated)."""
    name = f"{listing.shape.title}Query"
    fields: dict[str, Any] = {}
    status = listing.filter_status
    if status is not None:
        if listing.default_status is None:
            fields["status"] = (
                status | None,
                Field(default=None, description="only rows in this status"),
            )
        else:
            values = " or ".join(s.value for s in status)
            fields["status"] = (
                status,
                Field(default=listing.default_status, description=values),
            )
    if listing.paginated:
        model: type[BaseModel] = create_model(name, __base__=ListQuery, **fields)
    else:
        model = create_model(name, __config__=ConfigDict(extra="forbid"), **fields)
    return model


class NotificationQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: Int64 = Field(default=0, description="last id seen")
    limit: int = Field(default=20, ge=1, le=MAX_LIMIT, description="page size")
    account_ref: Ident | None = Field(default=None, description="only this account's")
