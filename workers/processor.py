"""Process events: claim with a lease, run the handler and the status change in one transaction."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import structlog

from domain import event_log
from domain.credits.period import grant_batch_dues
from domain.envelope import EventEnvelope, parse_envelope
from domain.event_log import Failure
from domain.mirror.batch import Batch
from domain.mirror.families import REGISTRY
from domain.mirror.store import flush_writes, prepare_batch
from domain.mirror.unit import Registration, TargetsOf, Unit
from domain.models import EventStatus
from domain.ops.attempts import record_attempt
from domain.redact import event_strings, scrub
from domain.thin import THIN_REGISTRY, Counts, Fetch, ThinRegistration
from domain.types import utcnow
from workers import metrics
from workers.runtime import Runtime, get_gateway

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


class ThinFetcher(Protocol):
    """The part of the Stripe gateway thin event handlers fetch through."""

    def retrieve_thin_event(self, event_id: str, context: str | None = None) -> dict[str, Any]: ...

    def retrieve_path(self, path: str, context: str | None = None) -> dict[str, Any]: ...


class NoRelatedObject(ValueError):
    """The handler fetches the related object, and the thin event names none."""


# Thin event types are namespaced by API version (`v1.billing.meter...`, `v2.core...`);
# snapshot types never are. Only a routing hint: the parsed envelope decides.
THIN_TYPE_PREFIXES = ("v1.", "v2.")


@dataclass(frozen=True)
class Handlers:
    """The dispatch tables and, for thin events, how to reach Stripe (built on first use)."""

    registry: Mapping[str, Registration]
    thin: Mapping[str, ThinRegistration]
    gateway: Callable[[], ThinFetcher]


def process_events(
    rt: Runtime,
    event_ids: Sequence[str],
    registry: Mapping[str, Registration] = REGISTRY,
    thin_registry: Mapping[str, ThinRegistration] = THIN_REGISTRY,
    gateway: Callable[[], ThinFetcher] = get_gateway,
) -> BatchOutcome:
    """Claim the claimable ids, then apply them: together if they can, else one by one.

    Thin events always go one by one: their handler's fetch (through `gateway`, called
    only when a thin event has a handler) happens before their transaction opens.

    The claimed events are first applied in one transaction (one BEGIN, one fenced finish,
    one COMMIT for the whole message). If anything in it goes wrong (a handler raises, a
    mirror lock is busy, a lease was lost) it is rolled back whole and every event runs in
    its own transaction instead, where failures are counted per event as before.
    """
    outcome = BatchOutcome()
    token = str(uuid.uuid4())
    lease = timedelta(seconds=rt.settings.lease_seconds)
    unique = list(dict.fromkeys(event_ids))
    with rt.sessions.begin() as session:
        claimed = {c.event_id: c for c in event_log.claim(session, unique, token, utcnow(), lease)}
    outcome.skipped = [i for i in event_ids if i not in claimed]
    events = [claimed[i] for i in unique if i in claimed]
    handlers = Handlers(registry, thin_registry, gateway)
    thin = [e for e in events if e.type.startswith(THIN_TYPE_PREFIXES)]
    if thin:
        events = [e for e in events if not e.type.startswith(THIN_TYPE_PREFIXES)]
    if not (len(events) > 1 and _apply_together(rt, events, token, registry, outcome)):
        for event in events:
            _process_one(rt, event, token, handlers, outcome)
    for event in thin:
        _process_one(rt, event, token, handlers, outcome)
    return outcome


def _context(event: event_log.Claimed) -> Any:
    return structlog.contextvars.bound_contextvars(
        event_id=event.event_id, event_type=event.type, attempt=event.attempts + 1
    )


def _apply(
    unit: Unit, envelope: EventEnvelope, registry: Mapping[str, Registration]
) -> EventStatus:
    if envelope.thin:  # never here when routed as thin; the slow path fetches first
        raise ValueError("a thin event cannot be applied without its fetch")
    registration = registry.get(envelope.type)
    if registration is None:
        return EventStatus.IGNORED
    registration.handler(unit, envelope)
    return EventStatus.PROCESSED


def fetch_for(
    fetcher: ThinFetcher, registration: ThinRegistration, envelope: EventEnvelope
) -> dict[str, Any]:
    """What a thin event's handler needs, fetched through the gateway (outside any transaction)."""
    if registration.fetch is Fetch.EVENT:
        return dict(fetcher.retrieve_thin_event(envelope.event_id, envelope.context))
    if envelope.related_object is None:
        raise NoRelatedObject(f"{envelope.type} has no related_object to fetch")
    return dict(fetcher.retrieve_path(envelope.related_object.url, envelope.context))


def _apply_together(
    rt: Runtime,
    events: Sequence[event_log.Claimed],
    token: str,
    registry: Mapping[str, Registration],
    out: BatchOutcome,
) -> bool:
    """All events and their finish in one transaction; False (nothing written) on any error."""
    done: list[tuple[event_log.Claimed, EventStatus, float]] = []
    try:
        envelopes = [parse_envelope(event.raw_body) for event in events]
        with rt.sessions.begin() as session:
            unit = Unit(session, rt.deps, Batch())
            prepare_batch(  # from here on a busy object sends the batch down the slow path
                unit, (t(e) for e in envelopes if (t := _targets(registry, e)) is not None)
            )
            for event, envelope in zip(events, envelopes, strict=True):
                started = time.perf_counter()
                with _context(event):
                    status = _apply(unit, envelope, registry)
                done.append((event, status, time.perf_counter() - started))
            now = utcnow()
            grant_batch_dues(unit, now)
            flush_writes(unit)
            for status in (EventStatus.PROCESSED, EventStatus.IGNORED):
                ids = [e.event_id for e, s, _ in done if s is status]
                if event_log.finish_many(session, ids, token, status, now) != len(ids):
                    raise LeaseLost(f"lease lost on some of {len(ids)} events")
    except Exception as exc:  # rolled back whole: each event gets its own transaction now
        sensitive = frozenset().union(*(event_strings(e.raw_body) for e in events))
        reason = scrub(f"{type(exc).__name__}: {exc}", sensitive)[:300]
        log.info("batch.split", events=len(events), reason=reason)
        metrics.BATCHES.labels("split").inc()
        return False
    metrics.BATCHES.labels("together").inc()
    for event, status, elapsed in done:
        with _context(event):
            _succeeded(event, status, elapsed, out)
    return True


def _targets(registry: Mapping[str, Registration], envelope: EventEnvelope) -> TargetsOf | None:
    registration = registry.get(envelope.type)
    return registration.targets if registration is not None else None


def _process_one(
    rt: Runtime,
    event: event_log.Claimed,
    token: str,
    handlers: Handlers,
    out: BatchOutcome,
) -> None:
    started = time.perf_counter()
    event_id = event.event_id
    counts: Counts = {}
    with _context(event):
        try:
            envelope = parse_envelope(event.raw_body)
            thin = handlers.thin.get(envelope.type) if envelope.thin else None
            fetched = fetch_for(handlers.gateway(), thin, envelope) if thin else {}
            with rt.sessions.begin() as session:
                unit = Unit(session, rt.deps)  # no batch: every write goes straight through
                if thin is not None:
                    counts = thin.handler(unit, envelope, fetched)
                    status = EventStatus.PROCESSED
                elif envelope.thin:  # a thin type no module handles
                    status = EventStatus.IGNORED
                else:
                    status = _apply(unit, envelope, handlers.registry)
                if not event_log.finish(session, event_id, token, status, utcnow()):
                    raise LeaseLost(event_id)
        except LeaseLost:
            log.warning("event.lease_lost")
            out.skipped.append(event_id)
            return
        except Exception as exc:  # any handler error becomes a retry; its writes rolled back
            out.failed.append(event_id)
            record_failure(rt, event_id, token, exc, event.type, event_strings(event.raw_body))
            metrics.observe_processing(event.type, "failed", time.perf_counter() - started)
            return
        _succeeded(event, status, time.perf_counter() - started, out)
        metrics.count_thin_codes(event.type, counts)  # after the commit, like the others


def _succeeded(
    event: event_log.Claimed, status: EventStatus, elapsed: float, out: BatchOutcome
) -> None:
    metrics.observe_processing(event.type, status.value, elapsed)
    if status is EventStatus.IGNORED:
        out.ignored.append(event.event_id)
        log.info("event.ignored", reason="no handler", duration_ms=round(elapsed * 1e3, 1))
    else:
        out.processed.append(event.event_id)
        log.info("event.processed", duration_ms=round(elapsed * 1e3, 1))


def record_failure(
    rt: Runtime,
    event_id: str,
    token: str,
    exc: BaseException,
    event_type: str = "unknown",
    sensitive: Collection[str] = (),
) -> None:
    """Count a failed attempt: schedule a retry with backoff, or dead-letter the event.

    The stored and logged texts are scrubbed of e-mails, parameter dumps and the
    `sensitive` strings (the event's payload values): an exception may repeat any of them.
    """
    failure = Failure.of(exc, sensitive)
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
