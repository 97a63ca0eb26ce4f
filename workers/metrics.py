"""Prometheus counters of the worker side (process-local; multiprocess mode sums them).

With PROMETHEUS_MULTIPROC_DIR set (before prometheus_client is imported), every process
(uvicorn workers, Celery's prefork children) writes its samples to files in that directory
and the web's `GET /metrics` adds them up. Backlog-style gauges are not kept here: they are
computed from the database at scrape time (`ingest.metrics`), correct across processes.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import Counter, Histogram

PROCESSING_SECONDS = Histogram(
    "billing_event_processing_seconds",
    "Time to apply one event (claim excluded), by type and outcome",
    ["type", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RETRIES = Counter(
    "billing_event_retries_total", "Failed attempts that were scheduled for a retry", ["type"]
)
DEAD_LETTERS = Counter(
    "billing_event_dead_letters_total", "Events whose attempts ran out (dead-lettered)", ["type"]
)
STRIPE_API_SECONDS = Histogram(
    "billing_stripe_api_request_seconds",
    "Outbound Stripe API calls, by endpoint and HTTP status (0 = no answer)",
    ["endpoint", "status"],
)
STRIPE_API_ERRORS = Counter(
    "billing_stripe_api_errors_total",
    "Outbound Stripe API calls that failed, by endpoint and kind",
    ["endpoint", "kind"],
)
BATCHES = Counter(
    "billing_event_batches_total",
    "Messages of several events: applied in one transaction, or split to one per event",
    ["outcome"],
)
THIN_EVENT_CODES = Counter(
    "billing_thin_event_codes_total",
    "What thin event handlers counted, by event type and code (meter errors: invalid usage "
    "events by Stripe's error code)",
    ["type", "code"],
)
NOTIFICATION_DELIVERIES = Counter(
    "billing_notification_deliveries_total",
    "Notification delivery attempts, by kind and outcome",
    ["kind", "outcome"],
)

USAGE_REPORTS = Counter(
    "billing_usage_records_reported_total",
    "Usage records settled by the meter reporter: reported to Stripe, or rejected",
    ["outcome"],
)
USAGE_REPORT_REQUESTS = Counter(
    "billing_usage_report_requests_total",
    "Meter event requests the reporter made (retries included)",
)

EVENTS_PRUNED = Counter(
    "billing_events_pruned_total",
    "Events deleted from the event log by retention (billing prune), by status",
    ["status"],
)
EVENTS_ARCHIVED = Counter(
    "billing_events_archived_total", "Pruned events whose raw payload was archived first"
)


def count_pruned(by_status: Mapping[str, int], archived: int) -> None:
    """One prune batch committed: events deleted by status, and how many were archived."""
    for status, n in by_status.items():
        if n:
            EVENTS_PRUNED.labels(status).inc(n)
    if archived:
        EVENTS_ARCHIVED.inc(archived)


def count_usage_reports(reported: int, rejected: int, requests: int) -> None:
    """One reporter pass settled: records reported and rejected, requests sent."""
    if reported:
        USAGE_REPORTS.labels("reported").inc(reported)
    if rejected:
        USAGE_REPORTS.labels("rejected").inc(rejected)
    if requests:
        USAGE_REPORT_REQUESTS.inc(requests)


def observe_processing(event_type: str, outcome: str, seconds: float) -> None:
    """One event applied (processed / ignored / failed)."""
    PROCESSING_SECONDS.labels(event_type, outcome).observe(seconds)


def observe_stripe_call(endpoint: str, status: int, seconds: float, error: str | None) -> None:
    """Hook for the Stripe gateway (and `billing check`): latency, and the error kind if any."""
    STRIPE_API_SECONDS.labels(endpoint, str(status)).observe(seconds)
    if error:
        STRIPE_API_ERRORS.labels(endpoint, error).inc()


def count_thin_codes(event_type: str, counts: Mapping[str, int]) -> None:
    """A thin event handled: add the counts its handler returned (code -> n)."""
    for code, n in counts.items():
        if n > 0:
            THIN_EVENT_CODES.labels(event_type, code).inc(n)


def count_notification_delivery(kind: str, outcome: str) -> None:
    """One notification POST settled: delivered, retrying or dead."""
    NOTIFICATION_DELIVERIES.labels(kind, outcome).inc()


def count_lease_expiries(retried: list[str], dead: list[str]) -> None:
    """Leases the sweeper took back (by event type): a retry, or a dead letter when out."""
    for event_type in retried:
        RETRIES.labels(event_type).inc()
    for event_type in dead:
        DEAD_LETTERS.labels(event_type).inc()
