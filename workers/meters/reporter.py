"""The meter reporter: claims pending usage, sends it to Stripe's meters, records the answer.

One pass (`report_once`): claim (one transaction, committed before any send), then per
request of at most 100 events: send through the gateway (shared rate limiter, errors
classified), and mark the events' records reported or rejected in one transaction. See
domain/usage/report_store.py for why a crash between the send and the commit never bills
twice (the same identifiers are sent again; Stripe keeps them 24 hours).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog
from sqlalchemy.orm import Session, sessionmaker

from domain.retry import RetryPolicy
from domain.settings import Settings
from domain.types import utcnow
from domain.usage import report_store
from domain.usage.reporting import MAX_EVENTS_PER_REQUEST, MeterEvent, chunks
from workers.metrics import count_usage_reports
from workers.rate_limit import RateLimitTimeout
from workers.stripe_gateway import Obj, StripeFailure

log = structlog.get_logger("workers.meters")

SESSION_RENEW_MARGIN = timedelta(minutes=2)  # a token this close to expiry is renewed first
SESSION_EXPIRED = "temporary_session_expired"
REJECTING_STATUSES = frozenset({400, 422})  # the only answers that reject usage for good


class MeterGateway(Protocol):
    """The gateway calls the reporter makes (workers/stripe_gateway.py)."""

    def create_meter_event_session(self) -> Obj: ...

    def send_meter_event_stream(self, token: str, events: list[Obj]) -> None: ...

    def create_meter_event(self, params: Obj, key: str) -> Obj: ...


@dataclass(frozen=True, slots=True)
class ReporterConfig:
    api: str = "v2"  # or "v1", the fallback endpoint
    bucket_seconds: int = 60
    max_records: int = 50_000
    retries: int = 3
    unlinked_reject_after: timedelta | None = timedelta(days=3)
    events_per_request: int = MAX_EVENTS_PER_REQUEST
    retry_base_seconds: float = 0.5
    retry_cap_seconds: float = 10.0

    @classmethod
    def from_settings(cls, s: Settings) -> ReporterConfig:
        return cls(
            api=s.usage_report_api,
            bucket_seconds=s.usage_bucket_seconds,
            max_records=s.usage_report_max_records,
            retries=s.usage_report_retries,
            unlinked_reject_after=timedelta(seconds=s.usage_unlinked_reject_seconds) or None,
        )


class SessionCache:
    """The meter event session token, reused until shortly before it expires."""

    def __init__(self, gateway: MeterGateway, clock: Callable[[], datetime] = utcnow) -> None:
        self._gateway = gateway
        self._clock = clock
        self._token: str | None = None
        self._expires_at: datetime | None = None
        self.created = 0

    def token(self) -> str:
        now = self._clock()
        if (
            self._token is None
            or self._expires_at is None
            or self._expires_at - SESSION_RENEW_MARGIN <= now
        ):
            answer = self._gateway.create_meter_event_session()
            self._token = str(answer["authentication_token"])
            self._expires_at = _parse_time(answer.get("expires_at")) or now + timedelta(minutes=10)
            self.created += 1
        return self._token

    def invalidate(self) -> None:
        self._token = None


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    return None


@dataclass
class ReportOutcome:
    claimed_records: int = 0
    events_sent: int = 0
    requests: int = 0
    reported_records: int = 0
    rejected_records: int = 0
    waiting_records: int = 0
    transient_failure: str | None = None  # the pass stopped early; records stay claimed
    rejections: dict[str, str] = field(default_factory=dict)  # identifier -> reason


class Transient(Exception):
    """Retries ran out for a transient error: stop the pass, the next one sends again."""


class MeterReporter:
    """Reports pending usage records; `after_send` is a test hook (runs before the commit)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        gateway: MeterGateway,
        config: ReporterConfig,
        *,
        clock: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], None] = time.sleep,
        after_send: Callable[[Sequence[MeterEvent]], None] | None = None,
        session_cache: SessionCache | None = None,
    ) -> None:
        self._sessions = sessions
        self._gateway = gateway
        self._config = config
        self._clock = clock
        self._sleep = sleep
        self._after_send = after_send
        self.session_cache = session_cache or SessionCache(gateway, clock)
        self._policy = RetryPolicy(
            config.retry_base_seconds, config.retry_cap_seconds, config.retries
        )

    def report_once(self) -> ReportOutcome:
        cfg = self._config
        outcome = ReportOutcome()
        with self._sessions() as session:
            backlog = report_store.backlog_size(session, cfg.max_records)
        if backlog < cfg.max_records:  # claimed groups left by a failed pass go first
            with self._sessions.begin() as session:
                claimed = report_store.claim(
                    session,
                    self._clock(),
                    cfg.bucket_seconds,
                    cfg.max_records,
                    cfg.unlinked_reject_after,
                )
            outcome.claimed_records = claimed.records
            outcome.rejected_records += claimed.rejected
            outcome.waiting_records = claimed.waiting
        with self._sessions() as session:
            events = report_store.claimed_events(session, cfg.bucket_seconds, cfg.max_records)
        size = cfg.events_per_request if cfg.api == "v2" else 1
        try:
            for batch in chunks(events, size):
                accepted, rejected = self._send(batch, outcome)
                if self._after_send is not None:
                    self._after_send(batch)
                with self._sessions.begin() as session:
                    now = self._clock()
                    outcome.reported_records += report_store.mark_reported(session, accepted, now)
                    outcome.rejected_records += report_store.mark_rejected(session, rejected, now)
                outcome.rejections.update({e.identifier: why for e, why in rejected})
                outcome.events_sent += len(accepted)
        except Transient as exc:
            outcome.transient_failure = str(exc)
            log.warning("meters.report_interrupted", error=str(exc))
        count_usage_reports(outcome.reported_records, outcome.rejected_records, outcome.requests)
        if outcome.claimed_records or outcome.events_sent or outcome.rejected_records:
            log.info(
                "meters.reported",
                events=outcome.events_sent,
                requests=outcome.requests,
                reported=outcome.reported_records,
                rejected=outcome.rejected_records,
                waiting=outcome.waiting_records,
            )
        return outcome

    # --- sending -------------------------------------------------------------------------

    def _send(
        self, batch: Sequence[MeterEvent], outcome: ReportOutcome
    ) -> tuple[list[MeterEvent], list[tuple[MeterEvent, str]]]:
        """Send one request's events: (events accepted, (event, why) refused for good).

        A request refused for good is sent again one event per request, so one bad event
        does not take the other 99 down with it.
        """
        try:
            self._with_retries(lambda: self._request(batch), outcome)
        except StripeFailure as failure:
            if len(batch) == 1:
                return [], [(batch[0], str(failure))]
            accepted: list[MeterEvent] = []
            rejected: list[tuple[MeterEvent, str]] = []
            for event in batch:
                ok, bad = self._send([event], outcome)
                accepted += ok
                rejected += bad
            return accepted, rejected
        return list(batch), []

    def _request(self, batch: Sequence[MeterEvent]) -> None:
        if self._config.api == "v1":
            for event in batch:
                # The identifier doubles as the idempotency key: a retried call is replayed.
                self._gateway.create_meter_event(event.v1(), key=f"meter-event:{event.identifier}")
            return
        payload = [e.v2() for e in batch]
        try:
            self._gateway.send_meter_event_stream(self.session_cache.token(), payload)
        except StripeFailure as failure:
            if failure.error.get("type") != SESSION_EXPIRED and (
                failure.error.get("http_status") != 401
            ):
                raise
            self.session_cache.invalidate()  # expired early (clock skew, revoked): renew once
            self._gateway.send_meter_event_stream(self.session_cache.token(), payload)

    def _with_retries(self, call: Callable[[], None], outcome: ReportOutcome) -> None:
        attempt = 0
        while True:
            attempt += 1
            outcome.requests += 1
            try:
                call()
                return
            except RateLimitTimeout as exc:
                raise Transient(str(exc)) from exc
            except StripeFailure as failure:
                if not failure.transient:
                    if failure.error.get("http_status") in REJECTING_STATUSES:
                        raise  # Stripe refused the events themselves
                    # 401/403/404...: our key, session or URL is wrong, not the usage. Never
                    # dead-letter billable usage for that: stop, and keep it pending.
                    raise Transient(f"stopped, not the events' fault: {failure}") from failure
                if self._policy.exhausted(attempt):
                    raise Transient(str(failure)) from failure
                delay = self._policy.delay(attempt)
                if failure.retry_after is not None:
                    delay = max(delay, min(failure.retry_after, self._config.retry_cap_seconds))
                self._sleep(delay)
