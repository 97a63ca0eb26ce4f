"""Replay of rejected usage (the usage dead letters), shared by the CLI and the ops API.

A replay puts rejected records back to `pending`, unclaimed, so the next reporter pass sends
them again (they were never billed). It is audited in `replay_audit` (action
`usage.replay`: who, via, why, the selector, how many) in the same transaction as the
change; a replay that changes nothing leaves no audit row. A dry run reports what would be
replayed, per meter, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from domain.ops.audit import AUDIT, Actor, start_audit
from domain.types import utcnow
from domain.usage import rejected as sql
from domain.usage.rejected import RejectedFilter

log = structlog.get_logger("domain.ops.usage")

ACTION = "usage.replay"
# At most this many record ids are listed in an answer (the count is always whole).
LISTED_IDS = 1000


class NothingSelected(ValueError):
    """A replay without ids, filter or an explicit `all` (refused, never guessed)."""


@dataclass
class UsageReplayResult:
    """What a replay did (or, dry run, would do)."""

    dry_run: bool
    count: int = 0
    by_meter: dict[str, int] = field(default_factory=dict)
    audit_id: int | None = None
    record_ids: list[str] = field(default_factory=list)  # the first LISTED_IDS
    skipped: dict[str, str] = field(default_factory=dict)  # id -> why not

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "count": self.count,
            "by_meter": self.by_meter,
            "audit_id": self.audit_id,
            "record_ids": self.record_ids,
            "skipped": self.skipped,
        }


class UsageReplayService:
    """Replays rejected usage records by id, by filter, or all; audited."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def replay(
        self,
        actor: Actor,
        *,
        record_ids: Sequence[str] = (),
        flt: RejectedFilter | None = None,
        everything: bool = False,
        reason: str | None = None,
        dry_run: bool = False,
    ) -> UsageReplayResult:
        """Replay these records (or those matching `flt`, or every one with `everything`)."""
        flt = flt or RejectedFilter()
        ids = list(dict.fromkeys(record_ids)) or None
        if ids is None and flt.is_empty and not everything:
            raise NothingSelected("give record ids, a filter, or ask for all explicitly")
        result = UsageReplayResult(dry_run=dry_run)
        with Session(self.engine) as session, session.begin():
            rows = sql.selected(session, ids, flt, lock=not dry_run)
            result.count = len(rows)
            result.by_meter = sql.by_meter(rows)
            result.record_ids = [rid for rid, _ in rows[:LISTED_IDS]]
            if ids is not None:
                result.skipped = _skipped(session, ids, {rid for rid, _ in rows})
            if rows and not dry_run:
                now = utcnow()
                selector = {
                    "record_ids": ids,
                    "filter": flt.describe(),
                    "all": everything,
                    "by_meter": result.by_meter,
                }
                result.audit_id = start_audit(session, actor, ACTION, selector, reason, now)
                chosen = [rid for rid, _ in rows]
                for part in range(0, len(chosen), 1000):  # the rows locked above, no others
                    sql.replay_rejected(session, chosen[part : part + 1000])
                session.execute(
                    update(AUDIT).where(AUDIT.c.id == result.audit_id).values(event_count=len(rows))
                )
        if result.audit_id is not None:
            log.info(
                "usage.replayed",
                audit_id=result.audit_id,
                actor=actor.name,
                via=actor.via,
                count=result.count,
                by_meter=result.by_meter,
            )
        return result


def _skipped(session: Session, ids: Sequence[str], chosen: set[str]) -> dict[str, str]:
    statuses = sql.statuses_of(session, [i for i in ids if i not in chosen])
    out: dict[str, str] = {}
    for rid in ids:
        if rid in chosen:
            continue
        status = statuses.get(rid)
        if status is None:
            out[rid] = "no such usage record"
        elif status == sql.REJECTED:
            out[rid] = "rejected, but not matched by the filter"
        else:
            out[rid] = f"{status}; only rejected usage replays"
    return out
