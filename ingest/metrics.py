"""`GET /metrics`: process counters (multiprocess-aware) plus gauges read from the database.

Backlog, oldest unprocessed age, dead letters, commands and notifications are computed by a
collector querying Postgres: one truth for every process, by construction. They are cached
for METRICS_CACHE_SECONDS and refreshed by one scrape at a time (see `gauge_cache`).
Counters and histograms (webhooks here, processing in `workers.metrics`) live in each
process; with PROMETHEUS_MULTIPROC_DIR set they are written to files there and summed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from domain.models import ReplayAudit
from domain.ops import stats
from domain.types import utcnow
from ingest.gauge_cache import SingleFlightCache
from ingest.openapi import Operation, document

WEBHOOK_EVENTS = Counter(
    "billing_webhook_events_total",
    "Verified webhook events, by type and outcome (new, duplicate)",
    ["type", "outcome"],
)
WEBHOOK_REJECTED = Counter(
    "billing_webhook_rejected_total",
    "Webhook requests refused (nothing stored), by reason",
    ["reason"],
)
SIGNATURE_FAILURES = Counter(
    "billing_webhook_signature_failures_total",
    "Webhook requests whose Stripe-Signature was missing, malformed, stale or wrong",
    ["reason"],
)
HTTP_ERRORS = Counter(
    "billing_http_errors_total",
    "Requests a route did not handle: internal_error (500) or database_unavailable (503)",
    ["route", "error"],
)
CLIENT_DISCONNECTS = Counter(
    "billing_http_client_disconnects_total",
    "Requests whose client hung up before the body was complete",
    ["route"],
)
HEADERS_REFUSED = Counter(
    "billing_http_headers_refused_total",
    "Requests refused with 431 before the app saw them: headers too_large or too_many",
    ["reason"],
)


document(
    Operation(
        "GET",
        "/metrics",
        "Prometheus metrics (text format; serve on the internal network only)",
        "health",
        responses={200: ("text/plain; version=0.0.4", None)},
    )
)


# The counter's children by (type, new): `labels()` takes a lock and builds a key on every
# call; a dict lookup is the whole cost on the webhook's hot path. Bounded like the label
# values themselves (Stripe's event types times two).
_WEBHOOK_CHILDREN: dict[tuple[str, bool], Any] = {}


def webhook_event(event_type: str, is_new: bool) -> None:
    """Count a stored webhook event, new or a duplicate."""
    child = _WEBHOOK_CHILDREN.get((event_type, is_new))
    if child is None:
        child = WEBHOOK_EVENTS.labels(event_type, "new" if is_new else "duplicate")
        _WEBHOOK_CHILDREN[(event_type, is_new)] = child
    child.inc()


def rejected(reason: str, signature: bool = False) -> None:
    """Count a refused webhook (and a signature failure when that was the reason)."""
    WEBHOOK_REJECTED.labels(reason).inc()
    if signature:
        SIGNATURE_FAILURES.labels(reason).inc()


class DatabaseCollector(Collector):
    """Gauges computed from the database on each scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("billing_metrics_database_up", "1 if the database answered")
        try:
            families = list(self._families())
        except Exception:  # the scrape still answers, saying the database did not
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        with self.engine.connect() as conn:
            snap = stats.collect(conn, utcnow(), by_type=False)
            replayed = conn.execute(
                select(func.coalesce(func.sum(ReplayAudit.event_count), 0))
            ).scalar_one()
        backlog = GaugeMetricFamily(
            "billing_events_backlog", "Unfinished events by status", labels=["status"]
        )
        for status, n in snap.backlog.items():
            backlog.add_metric([status], n)
        yield backlog
        age = GaugeMetricFamily(
            "billing_oldest_unprocessed_event_age_seconds",
            "Age of the oldest unfinished event (0 when none)",
        )
        age.add_metric([], snap.oldest_unprocessed_age_seconds or 0.0)
        yield age
        dead = GaugeMetricFamily(
            "billing_dead_letters", "Events dead now, by error type", labels=["error_type"]
        )
        for error_type, n in snap.dead_letters_by_error.items():
            dead.add_metric([error_type], n)
        yield dead
        total = CounterMetricFamily("billing_replayed_events", "Events re-queued by ops replays")
        total.add_metric([], int(replayed))
        yield total
        if snap.commands_by_status is not None:
            commands = GaugeMetricFamily(
                "billing_commands", "Commands by type and status", labels=["type", "status"]
            )
            for kind, per in snap.commands_by_status.items():
                for status, n in per.items():
                    commands.add_metric([kind, status], n)
            yield commands
        if snap.notifications_by_status is not None:
            notes = GaugeMetricFamily(
                "billing_notifications", "Notification outbox by delivery status", labels=["status"]
            )
            for status, n in snap.notifications_by_status.items():
                notes.add_metric([status], n)
            yield notes


def render_processes() -> bytes:
    """Counters and histograms: this process's, or every process's in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    return generate_latest(processes)


def render_database(engine: Engine) -> bytes:
    """The database gauges' exposition text (the queries run here)."""
    database = CollectorRegistry()
    database.register(DatabaseCollector(engine))
    return generate_latest(database)


def database_gauges(engine: Engine, max_age: float) -> SingleFlightCache[bytes]:
    """The database gauges, recomputed at most every `max_age` seconds by one scrape."""
    return SingleFlightCache(lambda: render_database(engine), max_age)


def _render(gauges: SingleFlightCache[bytes]) -> bytes:
    return render_processes() + gauges.get()


async def metrics(request: Request) -> Response:
    """GET /metrics (Prometheus text format; no token, serve it on the internal network)."""
    body = await run_in_threadpool(_render, request.app.state.database_gauges)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
