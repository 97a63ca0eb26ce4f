"""Events: search (id, type, status, account), detail, replay and force re-run (audited)."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.event_log import EVENTS
from domain.input_types import is_ident
from domain.mirror.tables import BillingAccount
from domain.models import EventStatus
from domain.ops import queries
from domain.ops.filters import EventFilter
from domain.ops.timeline import account_events
from domain.redact import REDACTED, STRUCTURAL_KEYS, is_id
from ingest.console.issues import replay_service
from ingest.console.pages import action, actor, page, problem, reason_of, render, run_read

LIMIT = 50
MAX_LINES = 200
STATUSES = [s.value for s in EventStatus]


def shown_payload(raw: str) -> list[tuple[int, str, str]]:
    """The event's object as (depth, key, value) lines: ids, enums, numbers and flags shown,
    any other text hidden (it may be a name, an e-mail, an address)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    data = doc.get("data") if isinstance(doc, dict) else None
    obj = data.get("object") if isinstance(data, dict) else None
    lines: list[tuple[int, str, str]] = []

    def walk(node: Any, depth: int) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if len(lines) >= MAX_LINES:
                return
            name = str(key)
            if isinstance(value, dict | list):
                lines.append((depth, name, "{…}" if isinstance(value, dict) else "[…]"))
                walk(value, depth + 1)
            elif value is None or isinstance(value, bool | int | float):
                lines.append((depth, name, orjson.dumps(value).decode()))
            elif isinstance(value, str) and (name in STRUCTURAL_KEYS or is_id(value)):
                lines.append((depth, name, value))
            else:
                lines.append((depth, name, REDACTED))

    if isinstance(obj, dict | list):
        walk(obj, 0)
    return lines


def _customer_of(conn: Any, account_ref: str) -> str | None:
    """The account's Stripe customer id (None: no such account, or not linked yet)."""
    return conn.execute(
        select(BillingAccount.stripe_customer_id).where(BillingAccount.account_ref == account_ref)
    ).scalar_one_or_none()


def _search(conn: Any, q: dict[str, str]) -> list[dict[str, Any]]:
    status = q["status"] or None
    if q["account"]:
        customer = _customer_of(conn, q["account"])
        entries = reversed(account_events(conn, q["account"], customer))
        return [
            {
                "event_id": e.id,
                "type": e.type,
                "status": e.status,
                "received_at": None,
                "event_created": int(e.at.timestamp()),
                "attempts": None,
                "source": None,
            }
            for e in entries
            if (not q["type"] or e.type == q["type"]) and (not status or e.status == status)
        ][:LIMIT]
    flt = EventFilter(EventStatus(status) if status else None, q["type"] or None)
    return queries.list_events(conn, flt, limit=LIMIT)


@page
async def list_events(request: Request) -> Response:
    """GET /ops/events?event_id=&type=&status=&account=."""
    params = request.query_params
    q = {k: params.get(k, "").strip()[:255] for k in ("event_id", "type", "status", "account")}
    if q["event_id"]:
        return RedirectResponse(f"/ops/events/{q['event_id']}", status_code=303)
    bad = [k for k in ("type", "account") if q[k] and not is_ident(q[k])]
    if q["status"] and q["status"] not in STATUSES:
        bad.append("status")
    if bad:
        return problem(request, 422, "Bad search", f"not a valid value: {', '.join(bad)}")
    rows = await run_in_threadpool(run_read, request, lambda c: _search(c, q))
    return render(request, "events.html", {"rows": rows, "q": q, "statuses": STATUSES})


def _detail(conn: Any, event_id: str) -> dict[str, Any] | None:
    detail = queries.get_event(conn, event_id)
    if detail is None:
        return None
    raw = conn.execute(select(EVENTS.c.raw_body).where(EVENTS.c.event_id == event_id)).scalar()
    return {"event": detail, "payload": shown_payload(raw or "")}


async def _event_page(
    request: Request, event_id: str, message: str | None = None, status: int = 200
) -> Response:
    if not is_ident(event_id):
        return problem(request, 404, "No such event", "no event with this id")
    found = await run_in_threadpool(run_read, request, lambda c: _detail(c, event_id))
    if found is None:
        return problem(request, 404, "No such event", "no event with this id")
    return render(request, "event.html", {**found, "message": message}, status)


@page
async def show_event(request: Request) -> Response:
    """GET /ops/events/{event_id}."""
    return await _event_page(request, request.path_params["event_id"])


@action
async def replay_event(request: Request, form: dict[str, str]) -> Response:
    """POST /ops/events/{event_id}/replay (force=1: re-run a processed/ignored event)."""
    event_id = request.path_params["event_id"]
    if not is_ident(event_id):
        return problem(request, 404, "No such event", "no event with this id")
    reason = reason_of(form)
    if reason is None:
        return await _event_page(request, event_id, "A reason is required.", 422)
    force = form.get("force") == "1"
    result = await run_in_threadpool(
        replay_service(request).replay_events,
        actor(request),
        [event_id],
        force=force,
        reason=reason,
    )
    why = result.skipped.get(event_id)
    if why == "no such event":
        return problem(request, 404, "No such event", "no event with this id")
    if why is not None:
        return await _event_page(request, event_id, f"Not replayed: {why}.", 409)
    return RedirectResponse(f"/ops/replays/{result.audit_id}", status_code=303)
