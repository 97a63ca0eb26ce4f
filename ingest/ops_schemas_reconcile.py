"""Body and answer of the ops API's reconcile route (documented in the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema, field_validator

from domain.input_types import Ident
from domain.ops.filters import Since
from domain.ops.reconcile_kinds import BY_NAME, DEFAULT_KINDS, parse_kinds
from ingest.ops_schemas import Body, Reason

ObjectKind = Annotated[Ident, WithJsonSchema({"type": "string", "enum": list(BY_NAME)})]


class ReconcileRequest(Body):
    """Start (`since`, default 7d) or continue (`resume`) a reconcile; `repair` needs a reason."""

    since: Since | None = Field(default=None, description="6h, 7d or an ISO date/time")
    resume: bool = False
    objects: list[ObjectKind] = Field(
        default_factory=list,
        max_length=len(BY_NAME),
        description=f"object kinds; empty: {', '.join(DEFAULT_KINDS)}",
    )
    repair: bool = False
    reason: Reason | None = None
    max_pages: int = Field(default=10, ge=1, le=100, description="pages this call may fetch")
    page_size: int = Field(default=100, ge=1, le=100)

    @field_validator("objects")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        try:
            return list(parse_kinds(value)) if value else []
        except ValueError:  # its text names the unknown kind: the API never echoes input
            raise ValueError(f"each must be one of {', '.join(BY_NAME)}") from None


class FieldDrift(BaseModel):
    """One field: the mirror's value and Stripe's (personal values are `[redacted]`)."""

    field: str
    mirror: Any
    stripe: Any


class DriftFinding(BaseModel):
    """One object that drifted: missing, extra or differing, and whether repair fixed it."""

    kind: str
    object_id: str
    outcome: str = Field(description="missing, extra, differing, or failed (field `error`)")
    fields: list[FieldDrift]
    repaired: bool


class ReconcileResponse(BaseModel):
    """Run totals (over every call) and its drift and failed findings (the first 1000)."""

    run_id: int
    audit_id: int | None
    window_start: int
    window_end: int
    kinds: list[str]
    repair: bool
    status: str = Field(description="running (call again with resume), done, superseded")
    complete: bool
    pages: int
    seen: int
    missing: int
    extra: int
    differing: int
    failed: int
    drift: int
    repaired: int
    findings: list[DriftFinding]
    stopped: str | None = Field(description="max_pages, error, conflict; null when finished")
    error: str | None
    seconds: float
