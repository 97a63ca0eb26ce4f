"""Ops reads of the commands table: list with filters, one command in detail (redacted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from domain.commands.store import COMMANDS
from domain.event_log import Executor
from domain.ops.audit import AUDIT

# Parameters that may hold personal data: shown to ops as present, never as values.
PERSONAL = frozenset(
    {"email", "name", "company_name", "address", "phone", "vat_number", "kvk_number"}
)
SUMMARY_COLUMNS = (
    "id",
    "type",
    "account_ref",
    "status",
    "attempts",
    "created_at",
    "finished_at",
    "next_attempt_at",
    "last_error",
)
RETRY_ACTION = "commands.retry"


def list_commands(
    bind: Executor,
    *,
    status: str | None = None,
    command_type: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    before_seq: int | None = None,
) -> list[dict[str, Any]]:
    """Commands newest first, filtered; `seq` is the page cursor (order of arrival)."""
    c = COMMANDS.c
    stmt = select(c.seq, *(c[name] for name in SUMMARY_COLUMNS)).order_by(c.seq.desc())
    if status:
        stmt = stmt.where(c.status == status)
    if command_type:
        stmt = stmt.where(c.type == command_type)
    if since:
        stmt = stmt.where(c.created_at >= since)
    if before_seq is not None:
        stmt = stmt.where(c.seq < before_seq)
    rows = bind.execute(stmt.limit(limit)).mappings()
    return [_summary(dict(r)) for r in rows]


def get_command_detail(bind: Executor, command_id: str) -> dict[str, Any] | None:
    """One command: lifecycle, Stripe's error, redacted params, result, retries by ops."""
    row = bind.execute(select(COMMANDS).where(COMMANDS.c.id == command_id)).mappings().first()
    if row is None:
        return None
    detail = _summary(dict(row))
    detail.update(
        principal=row["principal"],
        params=redact(row["params"] or {}),
        result=row["result"],
        error=row["error"],
        started_at=row["started_at"],
        retries=retry_audits(bind, command_id),
    )
    return detail


def retry_audits(bind: Executor, command_id: str) -> list[dict[str, Any]]:
    """Audited ops retries that named this command, oldest first."""
    a = AUDIT.c
    rows = bind.execute(
        select(a.id, a.at, a.actor, a.via, a.action, a.reason)
        .where(a.action == RETRY_ACTION, a.selector.contains(f'"{command_id}"'))
        .order_by(a.id)
    ).mappings()
    return [dict(r) for r in rows]


def redact(params: dict[str, Any]) -> dict[str, Any]:
    """Params with personal values replaced (ids, plans and flags stay readable)."""
    return {
        k: "<redacted>" if k in PERSONAL else (redact(v) if isinstance(v, dict) else v)
        for k, v in params.items()
    }


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    row["status"] = str(row["status"])
    return row
