"""Wiring for reconcile: Stripe's list and retrieve endpoints through the gateway."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from domain.mirror.unit import Deps
from domain.ops.reconcile import CursorGone, Fetched, ListPage, ReconcileService, Retrieve
from domain.settings import Settings
from workers.backfill import retrying
from workers.stripe_gateway import StripeFailure, StripeGateway, StripeResult, make_gateway


def _fetched(body: dict[str, Any]) -> Fetched:
    answered = body.answered_at if isinstance(body, StripeResult) else None
    return Fetched(dict(body), answered)


def gateway_reads(
    gateway: StripeGateway, retry_delay: float = 0.5, sleep: Callable[[float], None] = time.sleep
) -> tuple[ListPage, Retrieve]:
    """(list one page, retrieve one object; None for a 404), retrying transient failures."""

    def list_page(path: str, params: dict[str, Any]) -> Fetched:
        call = retrying(lambda: gateway.list_path(path, params), "reconcile", retry_delay, sleep)
        try:
            return _fetched(call())
        except StripeFailure as failure:
            if failure.error.get("http_status") == 404 and "starting_after" in params:
                raise CursorGone(path) from None
            raise

    def retrieve(path: str) -> Fetched | None:
        try:
            body = retrying(lambda: gateway.retrieve_path(path), "reconcile", retry_delay, sleep)()
        except StripeFailure as failure:
            if failure.error.get("http_status") == 404:
                return None
            raise
        return _fetched(body)

    return list_page, retrieve


def reconcile_service(
    engine: Engine,
    settings: Settings,
    deps: Deps,
    *,
    page_size: int = 100,
    gateway: StripeGateway | None = None,
    retry_delay: float = 0.5,
) -> ReconcileService:
    """A reconcile service on this engine, reading Stripe through the (rate-limited) gateway."""
    list_page, retrieve = gateway_reads(gateway or make_gateway(settings), retry_delay)
    return ReconcileService(engine, list_page, retrieve, deps, page_size=page_size)
