"""The ops API (`/v1/ops/...`, bearer token with the `ops` scope): the CLI over HTTP.

Queries, bodies and path ids are validated by ingest.inputs (422 with `fields`, 404 for an
id that cannot exist, 413 past OPS_BODY_BYTES); `require_scope` answers those refusals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.ops import queries
from domain.ops.audit import Actor
from domain.ops.filters import DeadLetterFilter, EventFilter
from domain.ops.service import NothingSelected, ReplayResult, ReplayService
from domain.ops.stats import collect
from domain.types import utcnow
from ingest.auth import require_scope
from ingest.inputs import InvalidInput, parse_body, parse_query, path_id
from ingest.ops_docs import register_operations
from ingest.ops_schemas import (
    BulkReplayRequest,
    DeadLetterQuery,
    EventQuery,
    EventReplayRequest,
    ReplayRequest,
    encode_event_cursor,
)
from ingest.responses import ORJSONResponse, error

log = structlog.get_logger("ingest.ops")


def _service(request: Request) -> ReplayService:
    # The app's batch publisher marks rows queued after the broker takes them; if the broker
    # is down it drops them and the sweeper re-publishes (the rows are already committed).
    return ReplayService(request.app.state.engine, request.app.state.publisher.submit)


def actor(request: Request) -> Actor:
    """Who acts: the token's name, via the API (for the audit trail)."""
    return Actor(request.state.principal, "api")


def read(request: Request, fn: Callable[[Any], Any]) -> Any:
    """Run a read-only query function on a connection of the app's engine."""
    with request.app.state.engine.connect() as conn:
        return fn(conn)


def _result(result: ReplayResult) -> Response:
    return ORJSONResponse(result.as_dict())


@require_scope("ops")
async def list_dead_letters(request: Request) -> Response:
    """GET /v1/ops/dead-letters."""
    q = parse_query(DeadLetterQuery, request)
    flt = DeadLetterFilter(q.type, q.since, q.error)
    rows = await run_in_threadpool(
        read,
        request,
        lambda c: queries.list_dead_letters(
            c, flt, limit=q.limit, before_id=q.before, include_replayed=q.include_replayed
        ),
    )
    nxt = rows[-1]["id"] if len(rows) == q.limit else None
    return ORJSONResponse({"data": rows, "next_before": nxt})


@require_scope("ops")
async def get_dead_letter(request: Request) -> Response:
    """GET /v1/ops/dead-letters/{id}."""
    ref = path_id(request, "id", "dead letter")
    detail = await run_in_threadpool(read, request, lambda c: queries.get_dead_letter(c, ref))
    if detail is None:
        return error(404, "not_found", "no dead letter with this id")
    return ORJSONResponse(detail)


@require_scope("ops")
async def replay_dead_letter(request: Request) -> Response:
    """POST /v1/ops/dead-letters/{id}/replay."""
    ref = path_id(request, "id", "dead letter")
    body = await parse_body(request, ReplayRequest)
    result = await run_in_threadpool(
        _service(request).replay_dead_letters,
        actor(request),
        refs=[ref],
        reason=body.reason,
        dry_run=body.dry_run,
    )
    if ref in result.skipped and result.skipped[ref] == "no such dead letter":
        return error(404, "not_found", "no dead letter with this id")
    return _result(result)


@require_scope("ops")
async def replay_dead_letters(request: Request) -> Response:
    """POST /v1/ops/dead-letters/replay."""
    body = await parse_body(request, BulkReplayRequest)
    flt = DeadLetterFilter(body.type, body.since, body.error)
    if body.ids and (body.all or not flt.is_empty):
        raise InvalidInput.one("ids", "give ids or a filter/all, not both")
    try:
        result = await run_in_threadpool(
            _service(request).replay_dead_letters,
            actor(request),
            refs=body.ids,
            flt=flt,
            everything=body.all,
            reason=body.reason,
            dry_run=body.dry_run,
        )
    except NothingSelected as exc:
        raise InvalidInput.one("body", str(exc)) from None
    return _result(result)


@require_scope("ops")
async def list_events(request: Request) -> Response:
    """GET /v1/ops/events."""
    q = parse_query(EventQuery, request)
    flt = EventFilter(q.status, q.type, q.since, q.source)
    rows = await run_in_threadpool(
        read, request, lambda c: queries.list_events(c, flt, limit=q.limit, before=q.cursor)
    )
    nxt = encode_event_cursor(rows[-1]) if len(rows) == q.limit else None
    return ORJSONResponse({"data": rows, "next_cursor": nxt})


@require_scope("ops")
async def get_event(request: Request) -> Response:
    """GET /v1/ops/events/{event_id}."""
    event_id = path_id(request, "event_id", "event")
    detail = await run_in_threadpool(read, request, lambda c: queries.get_event(c, event_id))
    if detail is None:
        return error(404, "not_found", "no event with this id")
    return ORJSONResponse(detail)


@require_scope("ops")
async def replay_event(request: Request) -> Response:
    """POST /v1/ops/events/{event_id}/replay."""
    event_id = path_id(request, "event_id", "event")
    body = await parse_body(request, EventReplayRequest)
    result = await run_in_threadpool(
        _service(request).replay_events,
        actor(request),
        [event_id],
        force=body.force,
        reason=body.reason,
        dry_run=body.dry_run,
    )
    why = result.skipped.get(event_id)
    if why == "no such event":
        return error(404, "not_found", "no event with this id")
    if why is not None:
        return error(409, "not_replayable", f"event {event_id} is {why}", reason=why)
    return _result(result)


@require_scope("ops")
async def stats(request: Request) -> Response:
    """GET /v1/ops/stats."""
    snap = await run_in_threadpool(read, request, lambda c: collect(c, utcnow()))
    return ORJSONResponse(snap.as_dict())


OPS_ROUTES = [
    Route("/v1/ops/dead-letters", list_dead_letters, methods=["GET"]),
    Route("/v1/ops/dead-letters/replay", replay_dead_letters, methods=["POST"]),
    Route("/v1/ops/dead-letters/{id}", get_dead_letter, methods=["GET"]),
    Route("/v1/ops/dead-letters/{id}/replay", replay_dead_letter, methods=["POST"]),
    Route("/v1/ops/events", list_events, methods=["GET"]),
    Route("/v1/ops/events/{event_id}", get_event, methods=["GET"]),
    Route("/v1/ops/events/{event_id}/replay", replay_event, methods=["POST"]),
    Route("/v1/ops/stats", stats, methods=["GET"]),
]
register_operations()
