"""Wiring for backfills: Stripe's Events API through the gateway, with a few quick retries."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from sqlalchemy import Engine

from domain.ops.backfill import BackfillService, FetchPage, Publish
from domain.settings import Settings
from workers.stripe_gateway import StripeFailure, StripeGateway, make_gateway

log = structlog.get_logger("workers.backfill")


T = TypeVar("T")


def retrying(
    call: Callable[[], T],
    what: str,
    base_delay: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = 3,
) -> Callable[[], T]:
    """`call` (a Stripe read, so retrying is always safe), retrying transient failures.

    After `attempts` the failure propagates: a paged run (backfill, reconcile) stops with
    its cursor committed and `--resume` continues from there once Stripe answers again.
    """

    def run() -> T:
        for attempt in range(1, attempts + 1):
            try:
                return call()
            except StripeFailure as failure:
                if not failure.transient or attempt == attempts:
                    raise
                delay = max(base_delay * 2 ** (attempt - 1), failure.retry_after or 0.0)
                log.warning(f"{what}.page_retry", attempt=attempt, delay_s=round(delay, 2))
                sleep(min(delay, 30.0))
        raise AssertionError("unreachable")  # pragma: no cover

    return run


def retrying_fetch(
    gateway: StripeGateway,
    attempts: int = 3,
    base_delay: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchPage:
    """List one page of events, retrying transient failures (see `retrying`)."""

    def fetch(params: dict[str, Any]) -> dict[str, Any]:
        page = retrying(
            lambda: gateway.list_events(params), "backfill", base_delay, sleep, attempts
        )
        return page()

    return fetch


def backfill_service(
    engine: Engine,
    settings: Settings,
    publish: Publish,
    *,
    page_size: int = 100,
    gateway: StripeGateway | None = None,
    retry_delay: float = 0.5,
) -> BackfillService:
    """A backfill service on this engine, fetching through the (rate-limited) gateway."""
    fetch = retrying_fetch(gateway or make_gateway(settings), base_delay=retry_delay)
    return BackfillService(engine, fetch, publish, page_size=page_size)
