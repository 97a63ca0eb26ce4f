"""The replay audit trail: who re-queued which events, when, why, by which selector."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, func, insert, select, update

from domain.event_log import EVENTS, Executor
from domain.models import ReplayAudit, ReplayAuditEvent

AUDIT = cast(Table, ReplayAudit.__table__)
AUDIT_EVENTS = cast(Table, ReplayAuditEvent.__table__)


@dataclass(frozen=True)
class Actor:
    """Who acts: an OS user (via cli) or an API token name (via api), or a job (backfill)."""

    name: str
    via: str


def start_audit(
    bind: Executor,
    actor: Actor,
    action: str,
    selector: dict[str, Any],
    reason: str | None,
    now: datetime,
) -> int:
    """Write the audit row before anything changes, so even a half-done bulk action shows."""
    return int(
        bind.execute(
            insert(AUDIT)
            .values(
                at=now,
                actor=actor.name[:255],
                via=actor.via,
                action=action,
                reason=reason,
                selector=orjson.dumps(selector).decode(),
                event_count=0,
            )
            .returning(AUDIT.c.id)
        ).scalar_one()
    )


def add_audit_events(bind: Executor, audit_id: int, changed: Sequence[tuple[str, str]]) -> None:
    """Link re-queued (event_id, previous_status) pairs to the audit row, in the same commit."""
    if not changed:
        return
    bind.execute(
        insert(AUDIT_EVENTS),
        [{"audit_id": audit_id, "event_id": e, "previous_status": s} for e, s in changed],
    )
    bind.execute(
        update(AUDIT)
        .where(AUDIT.c.id == audit_id)
        .values(event_count=AUDIT.c.event_count + len(changed))
    )


def count_audit(bind: Executor, audit_id: int, n: int) -> None:
    """Add `n` to what an audited action changed (a reconcile's repairs: no event rows)."""
    if n:
        bind.execute(
            update(AUDIT).where(AUDIT.c.id == audit_id).values(event_count=AUDIT.c.event_count + n)
        )


def audits_for_event(bind: Executor, event_id: str) -> list[dict[str, Any]]:
    """Every audited action that re-queued this event, oldest first."""
    a, ae = AUDIT.c, AUDIT_EVENTS.c
    rows = bind.execute(
        select(a.id, a.at, a.actor, a.via, a.action, a.reason, a.event_count, ae.previous_status)
        .join_from(AUDIT_EVENTS, AUDIT, ae.audit_id == a.id)
        .where(ae.event_id == event_id)
        .order_by(a.id)
    ).mappings()
    return [dict(r) for r in rows]


def recent_audits(bind: Executor, limit: int = 20) -> list[dict[str, Any]]:
    """The latest audited actions, newest first, with their selectors decoded."""
    rows = bind.execute(select(AUDIT).order_by(AUDIT.c.id.desc()).limit(limit)).mappings()
    return [{**r, "selector": orjson.loads(r["selector"])} for r in rows]


def get_audit(bind: Executor, audit_id: int) -> dict[str, Any] | None:
    """One audited action with its selector decoded, or None."""
    row = bind.execute(select(AUDIT).where(AUDIT.c.id == audit_id)).mappings().first()
    return None if row is None else {**row, "selector": orjson.loads(row["selector"])}


def audit_progress(bind: Executor, audit_id: int) -> dict[str, int]:
    """Where the events an action re-queued are now: current status -> count."""
    ae = AUDIT_EVENTS.c
    rows = bind.execute(
        select(EVENTS.c.status, func.count())
        .join_from(AUDIT_EVENTS, EVENTS, ae.event_id == EVENTS.c.event_id)
        .where(ae.audit_id == audit_id)
        .group_by(EVENTS.c.status)
    ).all()
    return {str(s): int(n) for s, n in rows}
