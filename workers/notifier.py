"""Deliver outbox notifications to NOTIFY_URL: signed POSTs, retried with backoff, then dead.

The body is the notification as JSON (same shape as `GET /v1/notifications` items); the
`X-Billing-Signature` header is Stripe's scheme (`t=<unix>,v1=<hex>` over "{t}.{body}")
keyed by NOTIFY_SECRET. Delivery is at least once: receivers dedupe by the notification id.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import orjson
import structlog

from domain.mirror import delivery
from domain.mirror.delivery import Claimed
from domain.mirror.statuses import DeliveryStatus
from domain.retry import RetryPolicy
from domain.settings import Settings
from domain.signing import sign_header
from domain.types import utcnow
from workers.metrics import count_notification_delivery
from workers.runtime import Runtime

log = structlog.get_logger("workers.notifier")
SIGNATURE_HEADER = "X-Billing-Signature"
Clock = Callable[[], datetime]


@dataclass
class DeliveryOutcome:
    """Notification ids by what happened to them in one run."""

    delivered: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)


def notify_policy(settings: Settings) -> RetryPolicy:
    """Backoff for notification delivery (its own knobs: receivers are not Stripe)."""
    return RetryPolicy(
        settings.notify_retry_base_seconds,
        settings.notify_retry_cap_seconds,
        settings.notify_max_attempts,
    )


def _lease(settings: Settings) -> timedelta:
    # Long enough for one batch of posts that all time out, so a live worker keeps its rows.
    return timedelta(seconds=settings.notify_timeout_seconds * (settings.notify_batch_size + 1))


def post_one(client: httpx.Client, url: str, secret: bytes, item: Claimed) -> str | None:
    """POST one notification; None on 2xx, else a short reason (no response body kept)."""
    body = orjson.dumps(item.body)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign_header(secret, body),
        "X-Billing-Notification-Id": str(item.id),
        "User-Agent": "billing-notifier/1",
    }
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    if response.is_success:
        return None
    return f"HTTP {response.status_code}"


def deliver_due(
    rt: Runtime,
    *,
    client: httpx.Client | None = None,
    clock: Clock = utcnow,
    time_budget_seconds: float | None = None,
) -> DeliveryOutcome:
    """Deliver every due notification, batch by batch, until none is due or time runs out."""
    s = rt.settings
    outcome = DeliveryOutcome()
    if not s.notify_url or s.notify_secret is None:
        return outcome
    secret = s.notify_secret.get_secret_value().encode()
    policy = notify_policy(s)
    budget = s.task_time_limit_seconds / 2 if time_budget_seconds is None else time_budget_seconds
    deadline = time.monotonic() + budget
    owned = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(s.notify_timeout_seconds))
    try:
        while time.monotonic() < deadline:
            with rt.sessions.begin() as session:
                batch = delivery.claim_due(session, clock(), _lease(s), s.notify_batch_size)
            if not batch:
                break
            for n, item in enumerate(batch):
                if time.monotonic() >= deadline:
                    # Stay inside the task's time limit; hand the rest back instead of
                    # leaving them leased until the lease runs out.
                    with rt.sessions.begin() as session:
                        delivery.release(session, batch[n:], clock())
                    break
                _deliver(rt, http, s.notify_url, secret, item, policy, clock, outcome)
    finally:
        if owned:
            http.close()
    return outcome


def _deliver(
    rt: Runtime,
    http: httpx.Client,
    url: str,
    secret: bytes,
    item: Claimed,
    policy: RetryPolicy,
    clock: Clock,
    outcome: DeliveryOutcome,
) -> None:
    failure = post_one(http, url, secret, item)
    bound = log.bind(notification_id=item.id, attempt=item.attempts)
    kind = str(item.body.get("kind") or "unknown")
    with rt.sessions.begin() as session:
        if failure is None:
            delivery.mark_delivered(session, item.id, clock())
        else:
            status = delivery.mark_failed(session, item.id, item.attempts, failure, clock(), policy)
    # Counted after the commit, so the metric never shows an outcome the outbox does not.
    if failure is None:
        outcome.delivered.append(item.id)
        count_notification_delivery(kind, "delivered")
        bound.info("notification.delivered")
    elif status is DeliveryStatus.DEAD:
        outcome.dead.append(item.id)
        count_notification_delivery(kind, "dead")
        bound.error("notification.dead", error=failure)
    else:
        outcome.retrying.append(item.id)
        count_notification_delivery(kind, "retrying")
        bound.warning("notification.retry_scheduled", error=failure)
