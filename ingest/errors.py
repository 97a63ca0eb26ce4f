"""Every request gets a request id; whatever a route did not handle becomes a JSON answer.

One pure-ASGI middleware, inside Starlette's own error middleware: it binds the request id
into structlog's context (every log line of the request carries it) and returns it in
`X-Request-Id`. An exception that escapes a route is answered here, logged once:

- the database unreachable or a pooled connection gone: 503 `database_unavailable`, a
  warning without traceback (an outage is not a bug, and would flood the log);
- the client hung up mid-body: an info line and a counter (anyone can do it, often);
- anything else: 500 `internal_error` with the request id, the full traceback in the log,
  never in the body.

Starlette's own answers for an unknown path (404) and a wrong method (405) get the same
JSON error shape through `http_exception`.
"""

from __future__ import annotations

import os
import re
from typing import Any

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest import metrics
from ingest.responses import error

log = structlog.get_logger("ingest.errors")

REQUEST_ID_HEADER = b"x-request-id"
# What a proxy or a client may pass on: uuids, hex, ULIDs and similar tokens, nothing else.
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def is_outage(engine: Engine | None, exc: BaseException) -> bool:
    """True when the database is unreachable or went away, rather than refusing the data."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    if engine is None:
        names = {cls.__name__ for cls in type(exc).__mro__}
        return bool(names & {"OperationalError", "InterfaceError"})
    dbapi = engine.dialect.loaded_dbapi
    return isinstance(exc, (dbapi.OperationalError, dbapi.InterfaceError))


def request_id_of(scope: Scope) -> str:
    """The caller's X-Request-Id when it is a sane token, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            if _SANE_REQUEST_ID.fullmatch(value):
                return str(value.decode("ascii"))
            break
    return os.urandom(16).hex()  # as unique as a uuid4, at a quarter of its cost


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's routing errors (404 unknown path, 405 wrong method) as JSON errors."""
    assert isinstance(exc, HTTPException)
    headers = exc.headers or {}
    if exc.status_code == 404:
        code, message = "not_found", "no such route"
    elif exc.status_code == 405:
        code, message = "method_not_allowed", f"allowed methods: {headers.get('Allow', '')}"
    else:
        code, message = "http_error", str(exc.detail)
    response = error(exc.status_code, code, message)
    response.headers.update(headers)
    return response


def route_of(scope: Scope) -> str:
    """The matched route's path template (bounded label values), or `unmatched`."""
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))


class EdgeErrorsMiddleware:
    """Request ids for every request; JSON answers for every unhandled exception."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        # bind/reset rather than the bound_contextvars() context manager: a third of the cost
        # on the webhook's hot path.
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            answer = _answer(scope, exc, request_id)
            if started:  # too late for an answer: let the server close the connection
                raise
            await answer(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)


def _answer(scope: Scope, exc: Exception, request_id: str) -> Any:
    route = route_of(scope)
    state = getattr(scope.get("app"), "state", None)
    if isinstance(exc, ClientDisconnect):
        log.info("http.client_disconnected", route=route)
        metrics.CLIENT_DISCONNECTS.labels(route).inc()
        return error(400, "client_disconnected", "the client closed the request before its end")
    if is_outage(getattr(state, "engine", None), exc):
        log.warning("http.database_unavailable", route=route, error_type=type(exc).__name__)
        metrics.HTTP_ERRORS.labels(route, "database_unavailable").inc()
        return error(
            503,
            "database_unavailable",
            "the database is unavailable; retry later",
            request_id=request_id,
        )
    log.error(
        "http.unhandled_error",
        route=route,
        method=scope.get("method"),
        error_type=type(exc).__name__,
        exc_info=exc,
    )
    metrics.HTTP_ERRORS.labels(route, "internal_error").inc()
    return error(
        500,
        "internal_error",
        f"unexpected error; quote request id {request_id} when reporting it",
        request_id=request_id,
    )
