"""The replay service shared by the CLI and the ops API: transactions, audit, publishing.

SQL lives in `domain.ops.replay`; this module decides chunking and when to publish. The
caller supplies `publish` (a Celery publish in the CLI, the app's batch publisher in the
API), so the domain does not depend on the transport.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import Engine, select

from domain.event_log import EVENTS
from domain.models import EventStatus
from domain.ops import replay as sql
from domain.ops.audit import Actor, add_audit_events, start_audit
from domain.ops.filters import DeadLetterFilter
from domain.ops.queries import resolve_dead_letters
from domain.types import utcnow

log = structlog.get_logger("domain.ops")

Publish = Callable[[Sequence[str]], None]
Progress = Callable[[int, int], None]


class NothingSelected(ValueError):
    """A bulk replay without ids, filter or an explicit `all` (refused, never guessed)."""


@dataclass
class ReplayResult:
    """What a replay did (or, dry run, would do)."""

    dry_run: bool
    audit_id: int | None = None
    replayed: list[str] = field(default_factory=list)
    by_type: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    publish_failed: bool = False
    seconds: float = 0.0

    @property
    def count(self) -> int:
        return sum(self.by_type.values()) if self.dry_run else len(self.replayed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "count": self.count,
            "by_type": self.by_type,
            "audit_id": self.audit_id,
            "replayed": self.replayed,
            "skipped": self.skipped,
            "publish_failed": self.publish_failed,
        }


class ReplayService:
    """Replays dead letters and re-runs events; every change is audited and published."""

    def __init__(self, engine: Engine, publish: Publish, chunk_size: int = 500) -> None:
        self.engine = engine
        self.publish = publish
        self.chunk_size = chunk_size

    def replay_dead_letters(
        self,
        actor: Actor,
        *,
        refs: Sequence[str] = (),
        flt: DeadLetterFilter | None = None,
        everything: bool = False,
        reason: str | None = None,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> ReplayResult:
        """Replay dead letters given by id (or event id), or all matching a filter."""
        if refs:
            return self._replay_refs(actor, refs, reason, dry_run)
        flt = flt or DeadLetterFilter()
        if flt.is_empty and not everything:
            raise NothingSelected("give dead-letter ids, a filter, or ask for all explicitly")
        return self._replay_filter(actor, flt, reason, dry_run, progress)

    def replay_events(
        self,
        actor: Actor,
        event_ids: Sequence[str],
        *,
        force: bool = False,
        reason: str | None = None,
        dry_run: bool = False,
    ) -> ReplayResult:
        """Re-run events by id; `force` also re-runs processed and ignored ones."""
        allowed = sql.FORCE_REPLAYABLE if force else sql.REPLAYABLE
        ids = list(dict.fromkeys(event_ids))
        action = "events.force_replay" if force else "events.replay"
        return self._replay_ids(actor, ids, allowed, action, {"event_ids": ids}, reason, dry_run)

    def _replay_refs(
        self, actor: Actor, refs: Sequence[str], reason: str | None, dry_run: bool
    ) -> ReplayResult:
        with self.engine.connect() as conn:
            resolved = resolve_dead_letters(conn, list(dict.fromkeys(refs)))
        ids = [e for e in resolved.values() if e]
        result = self._replay_ids(
            actor,
            ids,
            frozenset({EventStatus.DEAD}),
            "dead_letters.replay",
            {"dead_letters": list(resolved)},
            reason,
            dry_run,
        )
        for ref, event_id in resolved.items():
            if event_id is None:
                result.skipped[ref] = "no such dead letter"
        return result

    def _replay_ids(
        self,
        actor: Actor,
        ids: list[str],
        allowed: frozenset[EventStatus],
        action: str,
        selector: dict[str, Any],
        reason: str | None,
        dry_run: bool,
    ) -> ReplayResult:
        started = time.perf_counter()
        result = ReplayResult(dry_run=dry_run)
        if dry_run:
            with self.engine.connect() as conn:
                current = sql.statuses_of(conn, ids)
                types = _types_of(conn, [i for i in ids if current.get(i) in allowed])
            result.by_type = dict(Counter(types.values()))
        else:
            now = utcnow()
            with self.engine.begin() as conn:
                changed = sql.requeue(conn, ids, allowed, now)
                if changed:  # audited in the same commit; a no-op leaves no audit row
                    result.audit_id = start_audit(conn, actor, action, selector, reason, now)
                    self._record(conn, result, changed, actor, now)
                current = sql.statuses_of(conn, ids)
            self._publish(result, result.replayed)
        done = set(result.replayed) if not dry_run else set()
        for event_id in ids:
            status = current.get(event_id)
            if status is None:
                result.skipped[event_id] = "no such event"
            elif event_id not in done and (not dry_run or status not in allowed):
                result.skipped[event_id] = _why_not(status, allowed)
        result.seconds = time.perf_counter() - started
        return result

    def _replay_filter(
        self,
        actor: Actor,
        flt: DeadLetterFilter,
        reason: str | None,
        dry_run: bool,
        progress: Progress | None,
    ) -> ReplayResult:
        started = time.perf_counter()
        result = ReplayResult(dry_run=dry_run)
        with self.engine.connect() as conn:
            if dry_run:
                result.by_type = sql.dead_letter_types(conn, flt)
                return result
            total, upto = sql.dead_letter_bounds(conn, flt)
        if total == 0:
            return result
        now = utcnow()
        selector = {"filter": flt.describe(), "all": flt.is_empty, "matched_at_start": total}
        with self.engine.begin() as conn:
            result.audit_id = start_audit(conn, actor, "dead_letters.replay", selector, reason, now)
        after = 0
        # One transaction per chunk: bounded lock time, and progress that survives a crash
        # (the audit row counts exactly what was committed).
        while after < upto:
            with self.engine.begin() as conn:
                ids, after = sql.dead_letter_chunk(conn, flt, after, upto, self.chunk_size)
                changed = sql.requeue(conn, ids, {EventStatus.DEAD}, utcnow())
                self._record(conn, result, changed, actor, now)
            self._publish(result, [e for e, _, _ in changed])
            if progress:
                progress(len(result.replayed), total)
            if not ids:
                break
        result.seconds = time.perf_counter() - started
        log.info(
            "replay.done",
            audit_id=result.audit_id,
            count=len(result.replayed),
            seconds=round(result.seconds, 3),
        )
        return result

    def _record(
        self,
        conn: Any,
        result: ReplayResult,
        changed: list[tuple[str, str, str]],
        actor: Actor,
        now: Any,
    ) -> None:
        assert result.audit_id is not None
        was_dead = [e for e, _, old in changed if old == EventStatus.DEAD]
        sql.mark_dead_letters_replayed(conn, was_dead, now, f"{actor.via}:{actor.name}")
        add_audit_events(conn, result.audit_id, [(e, old) for e, _, old in changed])
        for event_id, event_type, _ in changed:
            result.replayed.append(event_id)
            result.by_type[event_type] = result.by_type.get(event_type, 0) + 1
        if changed:
            log.info(
                "event.requeued",
                audit_id=result.audit_id,
                actor=actor.name,
                via=actor.via,
                count=len(changed),
                # A bulk chunk names its range; the audit table has every id.
                event_ids=[e for e, _, _ in changed] if len(changed) <= 10 else None,
                first_event_id=changed[0][0],
                last_event_id=changed[-1][0],
                previous_statuses=dict(Counter(old for _, _, old in changed)),
            )

    def _publish(self, result: ReplayResult, ids: list[str]) -> None:
        if not ids:
            return
        try:
            self.publish(ids)
        except Exception as exc:  # rows are committed as queued: the sweeper publishes them
            result.publish_failed = True
            log.warning("replay.publish_failed", count=len(ids), error_type=type(exc).__name__)


def _types_of(conn: Any, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = conn.execute(select(EVENTS.c.event_id, EVENTS.c.type).where(EVENTS.c.event_id.in_(ids)))
    return {e: t for e, t in rows}


def _why_not(status: str, allowed: frozenset[EventStatus]) -> str:
    if status in (EventStatus.PROCESSED, EventStatus.IGNORED) and status not in allowed:
        return f"{status}; use force to re-run it"
    if status in (EventStatus.RECEIVED, EventStatus.QUEUED, EventStatus.PROCESSING):
        return f"{status}; already on its way"
    return f"{status}; not replayable here"
