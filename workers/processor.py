"""Process events: claim with a lease, run the handler and the status change in one transaction."""

from __future__ import annotations

import time
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import structlog

from domain import event_log
from domain.envelope import parse_envelope
from domain.event_log import Failure
from domain.models import EventStatus
from domain.ops.attempts import record_attempt
from domain.types import utcnow
from workers import metrics
from workers.handlers import HANDLERS, Handler
from workers.runtime import Runtime

log = structlog.get_logger("workers.processor")


@dataclass
class BatchOutcome:
    """Counts of what happened to each event id of one message."""

    processed: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def process_events(
    rt: Runtime, event_ids: Sequence[str], handlers: Mapping[str, Handler] = HANDLERS
) -> BatchOutcome:
    """Claim the claimable ids, then apply each one in its own unit of work."""
    outcome = BatchOutcome()
    token = str(uuid.uuid4())
    lease = timedelta(seconds=rt.settings.lease_seconds)
    with rt.sessions.begin() as session:
        won = set(event_log.claim(session, list(dict.fromkeys(event_ids)), token, utcnow(), lease))
    outcome.skipped = [i for i in event_ids if i not in won]
    for event_id in event_ids:
        if event_id in won:
            _process_one(rt, event_id, token, handlers, outcome)
            won.discard(event_id)
    return outcome


def _process_one(
    rt: Runtime, event_id: str, token: str, handlers: Mapping[str, Handler], out: BatchOutcome
) -> None:
    started = time.perf_counter()
    event_type, outcome = "unknown", ""
    with structlog.contextvars.bound_contextvars(event_id=event_id):
        try:
            with rt.sessions.begin() as session:
                row = event_log.lock_claimed(session, event_id, token)
                if row is None:
                    log.warning("event.lease_lost")
                    out.skipped.append(event_id)
                    return
                event_type, raw, attempts = row
                structlog.contextvars.bind_contextvars(event_type=event_type, attempt=attempts + 1)
                handler = handlers.get(event_type)
                if handler is None:
                    event_log.finish(session, event_id, EventStatus.IGNORED, utcnow())
                    out.ignored.append(event_id)
                    log.info("event.ignored", reason="no handler")
                    outcome = "ignored"
                    return
                handler(session, parse_envelope(raw))
                event_log.finish(session, event_id, EventStatus.PROCESSED, utcnow())
            out.processed.append(event_id)
            outcome = "processed"
            log.info("event.processed", duration_ms=round((time.perf_counter() - started) * 1e3, 1))
        except Exception as exc:  # any handler error becomes a retry; its writes rolled back
            out.failed.append(event_id)
            outcome = "failed"
            record_failure(rt, event_id, token, exc, event_type)
        finally:
            structlog.contextvars.unbind_contextvars("event_type", "attempt")
            if outcome:
                metrics.observe_processing(event_type, outcome, time.perf_counter() - started)


def record_failure(
    rt: Runtime, event_id: str, token: str, exc: BaseException, event_type: str = "unknown"
) -> None:
    """Count a failed attempt: schedule a retry with backoff, or dead-letter the event."""
    failure = Failure(
        error_type=type(exc).__name__,
        message=str(exc)[:4000],
        traceback="".join(traceback.format_exception(exc))[-16000:],
    )
    policy = rt.retry_policy
    now = utcnow()
    with rt.sessions.begin() as session:
        attempts = event_log.locked_attempts(session, event_id, token)
        if attempts is None:  # lease lost meanwhile: whoever holds it now owns the outcome
            return
        attempt = attempts + 1
        record_attempt(session, event_id, attempt, failure, now)
        bound = log.bind(attempt=attempt, error_type=failure.error_type)
        if policy.exhausted(attempt):
            event_log.mark_dead(session, event_id, attempt, failure, now)
            counter = metrics.DEAD_LETTERS
            bound.error("event.dead", error=failure.message[:500])
        else:
            delay = policy.delay(attempt)
            event_log.schedule_retry(
                session, event_id, attempt, now + timedelta(seconds=delay), failure.summary
            )
            counter = metrics.RETRIES
            bound.warning(
                "event.retry_scheduled", delay_s=round(delay, 2), error=failure.message[:500]
            )
    counter.labels(event_type).inc()  # after the commit: count only what was recorded
