"""Backfill: page Stripe's Events API and store what we missed, exactly like webhooks do.

How the cursor works (Stripe lists events newest first, with no total count):

- A run freezes its window at start: `created >= since` and `created <= now-at-start`.
  Events created after the start arrive by webhook, so the pages never shift under us.
- Pages are walked with `starting_after=<id of the last event of the previous page>`.
  That id is the run's cursor; it is written in the same transaction as the page's events
  and the seen/new/already-had counters. A crash therefore loses at most an uncommitted
  page, which `--resume` fetches again from the same cursor: no gap, and no double count
  (and storing is `ON CONFLICT DO NOTHING` by event id in any case).
- New events are published after the commit; a lost publish is the sweeper's job.

The caller supplies `fetch` (the Stripe gateway) and `publish` (Celery, or the app's batch
publisher), so the domain depends on neither.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
import structlog
from sqlalchemy import Engine

from domain.envelope import EnvelopeError, ensure_storable, parse_envelope
from domain.event_log import NewEvent, insert_events
from domain.ops import backfill_store as runs
from domain.ops.audit import Actor, add_audit_events, start_audit
from domain.redact import scrub
from domain.types import utcnow

log = structlog.get_logger("domain.ops.backfill")

FetchPage = Callable[[dict[str, Any]], dict[str, Any]]
Publish = Callable[[Sequence[str]], None]
MAX_AGE = timedelta(days=30)  # Stripe keeps events for 30 days
# `--since 30d` is computed a moment before it is checked; that must not be refused.
SLACK = timedelta(minutes=5)


class BackfillRefused(ValueError):
    """The request cannot be served (window too old, nothing to resume): say why."""


@dataclass
class BackfillResult:
    """A run's totals (over every resume) and what this call did."""

    run_id: int
    audit_id: int | None = None
    window_start: int = 0
    window_end: int = 0
    types: list[str] = field(default_factory=list)
    undelivered_only: bool = False
    status: str = runs.RUNNING
    pages: int = 0
    seen: int = 0
    new: int = 0
    already_had: int = 0
    oldest_created: int | None = None
    added_now: list[str] = field(default_factory=list)
    invalid_now: int = 0
    stopped: str | None = None  # None (finished), "max_pages", "error", "conflict"
    error: str | None = None
    publish_failed: bool = False
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.status == runs.DONE

    @property
    def fraction(self) -> float:
        """How much of the window is covered (pages run from its end back to its start)."""
        span = max(1, self.window_end - self.window_start)
        if self.complete:
            return 1.0
        if self.oldest_created is None:
            return 0.0
        return min(1.0, max(0.0, (self.window_end - self.oldest_created) / span))

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "complete": self.complete}


def check_since(since: datetime, now: datetime) -> None:
    """Refuse windows Stripe cannot serve: older than 30 days, or in the future."""
    oldest = now - MAX_AGE
    if since < oldest - SLACK:
        raise BackfillRefused(
            f"since {since:%Y-%m-%d %H:%M} UTC is older than 30 days: Stripe keeps events for "
            f"30 days only, so the earliest backfill starts at {oldest:%Y-%m-%d %H:%M} UTC"
        )
    if since > now:
        raise BackfillRefused(f"since {since:%Y-%m-%d %H:%M} UTC is in the future")


def page_params(window: runs.Window, cursor: str | None, limit: int) -> dict[str, Any]:
    """The `GET /v1/events` query for the page after `cursor`."""
    params: dict[str, Any] = {
        "limit": limit,
        "created": {"gte": window.start, "lte": window.end},
    }
    if window.types:
        params["types"] = list(window.types)
    if window.undelivered_only:
        params["delivery_success"] = False
    if cursor:
        params["starting_after"] = cursor
    return params


class BackfillService:
    """Starts and resumes backfill runs; every page commits events, cursor and counts at once."""

    def __init__(
        self, engine: Engine, fetch: FetchPage, publish: Publish, page_size: int = 100
    ) -> None:
        self.engine = engine
        self.fetch = fetch
        self.publish = publish
        self.page_size = max(1, min(100, page_size))

    def start(
        self,
        actor: Actor,
        since: datetime,
        *,
        types: Sequence[str] = (),
        undelivered_only: bool = False,
        reason: str | None = None,
        max_pages: int | None = None,
        progress: Callable[[BackfillResult], None] | None = None,
    ) -> BackfillResult:
        """Open a run over [since, now] (superseding an unfinished one) and page through it."""
        now = utcnow()
        check_since(since, now)
        kinds = tuple(sorted(set(types)))
        window = runs.Window(int(since.timestamp()), int(now.timestamp()), kinds, undelivered_only)
        with self.engine.begin() as conn:
            run_id = runs.start_run(conn, window, actor.name, actor.via, now)
            selector = {"run_id": run_id, **asdict(window)}
            audit_id = start_audit(conn, actor, "backfill", selector, reason, now)
        log.info("backfill.started", run_id=run_id, audit_id=audit_id)
        return self._run(run_id, audit_id, max_pages, progress)

    def resume(
        self,
        actor: Actor,
        *,
        reason: str | None = None,
        max_pages: int | None = None,
        progress: Callable[[BackfillResult], None] | None = None,
    ) -> BackfillResult:
        """Continue the newest unfinished run from its cursor."""
        now = utcnow()
        with self.engine.begin() as conn:
            run = runs.latest_unfinished(conn)
            if run is None:
                raise BackfillRefused("no unfinished backfill to resume; start one with since")
            selector = {"run_id": run["id"], "resume_after": run["cursor"]}
            audit_id = start_audit(conn, actor, "backfill.resume", selector, reason, now)
        log.info("backfill.resumed", run_id=run["id"], audit_id=audit_id)
        return self._run(run["id"], audit_id, max_pages, progress)

    def _run(
        self,
        run_id: int,
        audit_id: int,
        max_pages: int | None,
        progress: Callable[[BackfillResult], None] | None,
    ) -> BackfillResult:
        started = time.perf_counter()
        result = BackfillResult(run_id=run_id, audit_id=audit_id)
        with self.engine.connect() as conn:
            run = runs.get_run(conn, run_id)
        assert run is not None
        _fill(result, run)
        done_pages = 0
        while run["status"] == runs.RUNNING:
            if max_pages is not None and done_pages >= max_pages:
                result.stopped = "max_pages"
                break
            params = page_params(runs.window_of(run), run["cursor"], self.page_size)
            try:
                page = self.fetch(params)
            except Exception as exc:  # Stripe down or refusing: stop; --resume continues here
                result.stopped = "error"
                result.error = scrub(f"{type(exc).__name__}: {exc}")[:500]
                log.warning("backfill.interrupted", run_id=run_id, error_type=type(exc).__name__)
                break
            fresh = self._store_page(run, audit_id, page, result)
            if fresh is None:
                result.stopped = "conflict"
                result.error = "another backfill moved this run on (or superseded it)"
                break
            run = fresh
            done_pages += 1
            _fill(result, run)
            if progress:
                progress(result)
        _fill(result, run)
        result.seconds = time.perf_counter() - started
        log.info(
            "backfill.stopped" if result.stopped else "backfill.done",
            run_id=run_id,
            audit_id=audit_id,
            seen=result.seen,
            new=result.new,
            already_had=result.already_had,
        )
        return result

    def _store_page(
        self, run: dict[str, Any], audit_id: int, page: dict[str, Any], result: BackfillResult
    ) -> dict[str, Any] | None:
        events = [e for e in page.get("data") or [] if isinstance(e, dict)]
        rows: list[NewEvent] = []
        for event in events:
            raw = orjson.dumps(event)
            try:
                envelope = parse_envelope(raw)
                # One the database would refuse must not fail the page's insert for the rest.
                ensure_storable(envelope, raw)
                rows.append(NewEvent(envelope, raw.decode(), source="backfill"))
            except EnvelopeError:  # not an event we can store; counted, never guessed at
                result.invalid_now += 1
        now = utcnow()
        with self.engine.begin() as conn:
            current = runs.get_run(conn, run["id"], lock=True)
            if current is None or (current["status"], current["cursor"]) != (
                runs.RUNNING,
                run["cursor"],
            ):
                return None
            new = insert_events(conn, rows, now)
            new_ids = [r.envelope.event_id for r in rows if r.envelope.event_id in new]
            add_audit_events(conn, audit_id, [(e, "missing") for e in new_ids])
            created = [r.envelope.created for r in rows]
            step = runs.Page(
                cursor=str(events[-1].get("id")) if events else None,
                oldest_created=min(created) if created else None,
                seen=len(events),
                new=len(new_ids),
                already_had=len(rows) - len(new_ids),
                last=not events or not page.get("has_more"),
            )
            runs.advance(conn, run["id"], step, now)
            fresh = runs.get_run(conn, run["id"])
        result.added_now += new_ids
        if new_ids:
            log.info("backfill.stored", run_id=run["id"], count=len(new_ids), event_ids=new_ids)
            try:
                self.publish(new_ids)
            except Exception as exc:  # committed as received: the sweeper publishes them
                result.publish_failed = True
                log.warning("backfill.publish_failed", error_type=type(exc).__name__)
        return fresh


def _fill(result: BackfillResult, run: dict[str, Any]) -> None:
    for name in ("status", "pages", "seen", "new", "already_had", "oldest_created"):
        setattr(result, name, run[name])
    result.window_start, result.window_end = run["window_start"], run["window_end"]
    result.types, result.undelivered_only = list(run["types"]), run["undelivered_only"]
