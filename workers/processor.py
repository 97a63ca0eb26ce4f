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


class LeaseLost(Exception):
    """Our lease ran out and the event was handed out again: undo, let the new holder win."""


def process_events(
    rt: Runtime, event_ids: Sequence[str], handlers: Mapping[str, Handler] = HANDLERS
) -> BatchOutcome:
    """Claim the claimable ids, then apply each one in its own unit of work."""
    outcome = BatchOutcome()
    token = str(uuid.uuid4())
    lease = timedelta(seconds=rt.settings.lease_seconds)
    unique = list(dict.fromkeys(event_ids))
    with rt.sessions.begin() as session:
        claimed = {c.event_id: c for c in event_log.claim(session, unique, token, utcnow(), lease)}
    outcome.skipped = [i for i in event_ids if i not in claimed]
    for event_id in unique:
        if event_id in claimed:
            _process_one(rt, claimed[event_id], token, handlers, outcome)
    return outcome


def _process_one(
    rt: Runtime,
    event: event_log.Claimed,
    token: str,
    handlers: Mapping[str, Handler],
    out: BatchOutcome,
) -> None:
    started = time.perf_counter()
    event_id = event.event_id
    handler = handlers.get(event.type)
    status = EventStatus.PROCESSED if handler else EventStatus.IGNORED
    with structlog.contextvars.bound_contextvars(
        event_id=event_id, event_type=event.type, attempt=event.attempts + 1
    ):
        try:
            with rt.sessions.begin() as session:
                if handler is not None:
                    handler(session, parse_envelope(event.raw_body))
                if not event_log.finish(session, event_id, token, status, utcnow()):
                    raise LeaseLost(event_id)
        except LeaseLost:
            log.warning("event.lease_lost")
            out.skipped.append(event_id)
            return
        except Exception as exc:  # any handler error becomes a retry; its writes rolled back
            out.failed.append(event_id)
            record_failure(rt, event_id, token, exc, event.type)
            metrics.observe_processing(event.type, "failed", time.perf_counter() - started)
            return
        elapsed = time.perf_counter() - started
        metrics.observe_processing(event.type, status.value, elapsed)
        if handler is None:
            out.ignored.append(event_id)
            log.info("event.ignored", reason="no handler", duration_ms=round(elapsed * 1e3, 1))
        else:
            out.processed.append(event_id)
            log.info("event.processed", duration_ms=round(elapsed * 1e3, 1))


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
