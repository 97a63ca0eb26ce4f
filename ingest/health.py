"""Liveness and readiness probes.

Readiness checks are bounded and shared: each dependency is checked by at most one thread
at a time (concurrent `/readyz` callers await the same check), each caller waits at most
READINESS_TIMEOUT_SECONDS, and the broker is reached over one long-lived connection that is
re-opened when it breaks, not a new connection per probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, text
from starlette.requests import Request
from starlette.responses import Response

from domain.db import database_error_reason
from ingest.openapi import Operation, document
from ingest.responses import ORJSONResponse


class Health(BaseModel):
    """`status` is ok or unavailable; `checks` says what each dependency answered."""

    status: str
    checks: dict[str, str] = {}
    failed: list[str] = []


document(
    Operation(
        "GET", "/healthz", "Liveness: the process is up", "health", responses={200: ("up", Health)}
    )
)
document(
    Operation(
        "GET",
        "/readyz",
        "Readiness: database and broker reachable",
        "health",
        responses={200: ("ready", Health), 503: ("a dependency failed", Health)},
    )
)


class BrokerProbe:
    """One broker connection kept for readiness checks; re-opened (once per check) if broken.

    `connect` makes a kombu connection; its transport's socket timeouts bound each call.
    """

    def __init__(self, connect: Callable[[], Any], timeout: float) -> None:
        self._connect = connect
        self._timeout = timeout
        self._lock = threading.Lock()  # kombu connections are not thread-safe
        self._conn: Any = None

    def check(self) -> None:
        """Raise unless the broker answers a round trip."""
        with self._lock:
            try:
                self._ping()
            except Exception:
                # A restarted broker leaves a dead socket behind: one fresh connection decides.
                self._close()
                self._ping()

    def close(self) -> None:
        with self._lock:
            self._close()

    def _ping(self) -> None:
        if self._conn is None:
            self._conn = self._connect()
        conn = self._conn
        conn.ensure_connection(max_retries=1, timeout=self._timeout)
        channel = conn.default_channel  # opening a channel talks to the broker
        driver = conn.transport.driver_type
        if driver == "redis":
            channel.client.ping()
        elif driver == "amqp":
            channel.exchange_declare(exchange="amq.direct", type="direct", passive=True)
        else:  # other transports (the embedded SQLite one): no cheap round trip, reconnect
            self._close()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.release()


def database_check(engine: Engine) -> Callable[[], None]:
    def check() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return check


class Readiness:
    """Runs named checks in threads, at most one thread per check, each waited for `timeout`."""

    def __init__(self, checks: dict[str, Callable[[], None]], timeout: float) -> None:
        self._checks = checks
        self._timeout = timeout
        self._running: dict[str, asyncio.Future[None]] = {}

    async def run(self) -> dict[str, str]:
        names = list(self._checks)
        results = await asyncio.gather(*(self._one(name) for name in names))
        return dict(zip(names, results, strict=True))

    async def _one(self, name: str) -> str:
        running = self._running.get(name)
        if running is None or running.done():
            # A check still running (hung) is awaited again, not started a second time.
            running = asyncio.ensure_future(asyncio.to_thread(self._checks[name]))
            running.add_done_callback(_consume)
            self._running[name] = running
        try:
            await asyncio.wait_for(asyncio.shield(running), self._timeout)
        except TimeoutError:
            return "unavailable: timeout"
        except Exception as exc:
            # The type and a data-free reason (connection refused, authentication failed...),
            # never the driver's message: this answer is unauthenticated.
            reason = database_error_reason(exc)
            if reason == type(exc).__name__:
                return f"unavailable: {reason}"
            return f"unavailable: {type(exc).__name__} ({reason})"
        return "ok"


def _consume(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved here, so a check nobody waited for is not reported


async def healthz(request: Request) -> Response:
    """The process is up and serving."""
    return ORJSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Database and broker both answer; otherwise 503 naming what failed."""
    readiness: Readiness = request.app.state.readiness
    checks = await readiness.run()
    failed = [name for name, result in checks.items() if result != "ok"]
    if failed:
        return ORJSONResponse(
            {"status": "unavailable", "failed": failed, "checks": checks}, status_code=503
        )
    return ORJSONResponse({"status": "ok", "checks": checks})
