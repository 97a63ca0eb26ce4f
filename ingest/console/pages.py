"""What every console page shares: templates, the sign-in guard, CSRF-checked forms.

`page` guards a GET; `action` guards a POST (session, then a bounded urlencoded form with a
valid CSRF token). Without a session both answer 303 to the sign-in page with `next`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from domain.ops.audit import Actor
from ingest.console import session as sessions
from ingest.errors import is_outage

Endpoint = Callable[[Request], Awaitable[Response]]
log = structlog.get_logger("ingest.console")
HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
MAX_FORM_BYTES = 16 * 1024
MAX_REASON = 500


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "none waiting"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


TEMPLATES.env.filters["when"] = _when
TEMPLATES.env.filters["age"] = _age


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A template with the signed-in name and the session's CSRF token in its context."""
    signed_in: sessions.Session | None = getattr(request.state, "console", None)
    base = {"signed_in": signed_in, "csrf_field": sessions.CSRF_FIELD}
    if signed_in is not None:
        base["csrf"] = sessions.csrf_for(request.app.state.settings, signed_in.sid)
    response = TEMPLATES.TemplateResponse(request, name, {**base, **context}, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def problem(request: Request, status: int, title: str, message: str) -> Response:
    """The console's error page (the HTML face of the API's one error shape)."""
    return render(request, "error.html", {"title": title, "message": message}, status)


def actor(request: Request) -> Actor:
    """Who acts: the signed-in token name, via the console (for the audit trail)."""
    return Actor(request.state.console.name, "console")


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: only a console path, never another site."""
    value = value or ""
    ok = value.startswith("/ops") and not value.startswith("/ops/login")
    if ok and "//" not in value and "\\" not in value and value.isprintable():
        return value
    return "/ops"


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = request.url.path
    if request.headers.get("hx-request") == "true":
        # An htmx poll after the session ended: reload the whole page to the sign-in form,
        # rather than swapping the form into the fragment.
        target = request.headers.get("hx-current-url", "/ops")
        target = safe_next("/" + target.split("/", 3)[-1] if "://" in target else target)
        url = f"/ops/login?next={quote(target, safe='/')}"
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(f"/ops/login?next={quote(target, safe='/')}", status_code=303)


def page(endpoint: Endpoint) -> Endpoint:
    """A console GET: 303 to sign-in without a valid session."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        signed_in = sessions.current(request)
        if signed_in is None:
            return _to_login(request)
        request.state.console = signed_in
        request.state.principal = signed_in.name
        return await _answered(request, endpoint(request))

    return guarded


async def read_form(request: Request) -> dict[str, str] | None:
    """The urlencoded body (None past MAX_FORM_BYTES); repeated fields keep the first."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    fields: dict[str, str] = {}
    for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(key, value)
    return fields


def action(endpoint: Callable[[Request, dict[str, str]], Awaitable[Response]]) -> Endpoint:
    """A console POST: a session, a bounded form and its CSRF token (403 page otherwise)."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        signed_in = sessions.current(request)
        if signed_in is None:
            return _to_login(request)
        request.state.console = signed_in
        request.state.principal = signed_in.name
        form = await read_form(request)
        if form is None:
            return problem(request, 413, "Form too large", "the form is over 16 KiB")
        if not sessions.csrf_ok(request.app.state.settings, signed_in.sid, form.get("csrf_token")):
            log.warning("console.csrf_refused", principal=signed_in.name, path=request.url.path)
            return problem(
                request, 403, "Refused", "the form's CSRF token is missing or wrong; reload it"
            )
        return await _answered(request, endpoint(request, form))

    return guarded


async def _answered(request: Request, answer: Awaitable[Response]) -> Response:
    """The page, or the console's error page (HTML, not the API's JSON) when it fails."""
    try:
        return await answer
    except Exception as exc:
        request_id = structlog.contextvars.get_contextvars().get("request_id", "")
        if is_outage(request.app.state.engine, exc):
            log.warning("console.database_unavailable", path=request.url.path)
            return problem(
                request, 503, "Database unavailable", "the database is unavailable; retry later"
            )
        log.error(
            "console.unhandled_error",
            path=request.url.path,
            error_type=type(exc).__name__,
            exc_info=exc,
        )
        return problem(
            request,
            500,
            "Something went wrong",
            f"the page failed ({type(exc).__name__}); the log has the details"
            + (f" under request id {request_id}" if request_id else ""),
        )


def reason_of(form: dict[str, str]) -> str | None:
    """The required reason of an action, trimmed and bounded; None when empty."""
    reason = " ".join(form.get("reason", "").split())[:MAX_REASON]
    return reason or None


def run_read(request: Request, fn: Callable[[Any], Any]) -> Any:
    """A read-only query function on a connection of the app's engine (in a thread)."""
    with request.app.state.engine.connect() as conn:
        return fn(conn)
