"""Pruning the event log: batches of old finished events archived, then deleted.

One transaction per batch (PRUNE_BATCH_SIZE events): lock the batch, append its raw
payloads to ARCHIVE_DIR and fsync, delete the events with their attempts, dead letters and
audit links, commit. Locks are held for one batch only, and a crash between the archive
write and the commit leaves the events in place, archived twice at worst (readers take the
first copy). The sweeper loop asks for a prune on the `maintenance` queue every
PRUNE_INTERVAL_SECONDS (Celery beat does too, for deployments that run it instead).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from celery import Celery
from sqlalchemy import Engine, text

from domain import retention
from domain.retention import Cursor, PruneCounts
from domain.settings import Settings
from domain.types import utcnow
from workers import archive
from workers.metrics import count_pruned

log = structlog.get_logger("workers.prune")

_last_trigger = [float("-inf")]  # monotonic seconds of the last request (one per process)


@dataclass(frozen=True)
class PruneConfig:
    """The retention settings a prune needs (passed in, not read from the environment)."""

    retention_days: int
    archive_dir: Path | None
    batch_size: int

    @classmethod
    def from_settings(cls, settings: Settings) -> PruneConfig:
        return cls(settings.retention_days, settings.archive_dir, settings.prune_batch_size)


@dataclass
class PruneResult:
    """What a prune deleted (or, dry run, would delete) and what it kept."""

    dry_run: bool
    cutoff: datetime
    retention_days: int
    deleted: PruneCounts = field(default_factory=PruneCounts)
    kept: dict[str, int] = field(default_factory=dict)
    archived: int = 0
    archive_files: list[str] = field(default_factory=list)
    batches: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "retention_days": self.retention_days,
            "cutoff": self.cutoff.isoformat(),
            "events": self.deleted.total,
            "by_status": dict(self.deleted.events),
            "attempts": self.deleted.attempts,
            "dead_letters": self.deleted.dead_letters,
            "audit_links": self.deleted.audit_links,
            "kept": self.kept,
            "archived": self.archived,
            "archive_files": self.archive_files,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
        }


def prune(
    engine: Engine, config: PruneConfig, *, dry_run: bool = False, now: datetime | None = None
) -> PruneResult:
    """Prune (or, dry run, count) every event past the retention horizon that may go."""
    started = time.perf_counter()
    cutoff = retention.horizon(now or utcnow(), config.retention_days)
    result = PruneResult(dry_run=dry_run, cutoff=cutoff, retention_days=config.retention_days)
    if dry_run:
        with engine.connect() as conn:
            plan = retention.plan(conn, cutoff)
        result.deleted, result.kept = plan.prunable, plan.kept
    else:
        files: set[str] = set()
        after: Cursor | None = None
        while True:
            try:
                batch, counts, written = _one_batch(engine, config, cutoff, after)
            except OSError as exc:  # the archive refused the write: that batch rolled back
                log.error(
                    "retention.archive_failed",
                    error_type=type(exc).__name__,
                    error=exc.strerror,
                    pruned_before=result.deleted.total,
                )
                raise
            if not batch:
                break
            after = (batch[-1].received_at, batch[-1].event_id)
            result.batches += 1
            result.deleted.add(counts)
            result.archived += sum(written.values())
            files.update(str(p) for p in written)
            count_pruned(dict(counts.events), sum(written.values()))
        result.archive_files = sorted(files)
    result.seconds = time.perf_counter() - started
    log.info("retention.pruned", **_log_fields(result))
    return result


def _one_batch(
    engine: Engine, config: PruneConfig, cutoff: datetime, after: Cursor | None
) -> tuple[list[retention.PrunedEvent], PruneCounts, dict[Path, int]]:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Never queue behind a long lock (a worker's batch waits on nothing of ours).
            conn.execute(text("SET LOCAL lock_timeout = '5s'"))
        batch = retention.next_batch(conn, cutoff, config.batch_size, after)
        if not batch:
            return [], PruneCounts(), {}
        # Archived and fsynced before the delete is even sent: the commit comes last.
        written = archive.append(config.archive_dir, batch) if config.archive_dir else {}
        counts = retention.delete_events(conn, [e.event_id for e in batch])
    return batch, counts, written


def _log_fields(result: PruneResult) -> dict[str, Any]:
    fields = result.as_dict()
    fields.pop("archive_files")
    return fields


def trigger_prune(settings: Settings, app: Celery, *, now: float | None = None) -> bool:
    """Publish a prune task every PRUNE_INTERVAL_SECONDS (the sweeper loop calls this)."""
    from workers.celery_app import PRUNE

    interval = settings.prune_interval_seconds
    clock = time.monotonic() if now is None else now
    if clock - _last_trigger[0] < interval:
        return False
    _last_trigger[0] = clock
    try:
        app.send_task(PRUNE, queue="maintenance", retry=False, expires=interval)
    except Exception as exc:  # broker blip: the next interval asks again
        log.warning("retention.trigger_failed", error_type=type(exc).__name__)
        return False
    return True
