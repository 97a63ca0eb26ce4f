"""The ops API (`/v1/ops/...`, bearer token with the `ops` scope): the CLI over HTTP."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import orjson
import structlog
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.models import EventStatus
from domain.ops import queries
from domain.ops.audit import Actor
from domain.ops.filters import DeadLetterFilter, EventFilter, parse_since
from domain.ops.service import NothingSelected, ReplayResult, ReplayService
from domain.ops.stats import collect
from domain.types import utcnow
from ingest.auth import require_scope
from ingest.ops_docs import register_operations
from ingest.ops_schemas import BulkReplayRequest, EventReplayRequest, ReplayRequest
from ingest.responses import ORJSONResponse, error

log = structlog.get_logger("ingest.ops")
B = TypeVar("B", bound=BaseModel)
MAX_LIMIT = 500


class BadInput(Exception):
    """A query parameter or body failed validation: answered with 422 and field errors."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors


def _param(request: Request, name: str, parse: Callable[[str], Any]) -> Any:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse(raw)
    except ValueError as exc:
        raise BadInput([{"loc": ["query", name], "msg": str(exc)}]) from None


def _limit(request: Request) -> int:
    value = _param(request, "limit", int)
    value = 50 if value is None else value
    if not 1 <= value <= MAX_LIMIT:
        raise BadInput([{"loc": ["query", "limit"], "msg": f"between 1 and {MAX_LIMIT}"}])
    return int(value)


def _flag(raw: str) -> bool:
    return raw.lower() in {"1", "true", "yes"}


async def _body(request: Request, model: type[B]) -> B:
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise BadInput(
            [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors(include_url=False)]
        ) from None


def _service(request: Request) -> ReplayService:
    # The app's batch publisher marks rows queued after the broker takes them; if the broker
    # is down it drops them and the sweeper re-publishes (the rows are already committed).
    return ReplayService(request.app.state.engine, request.app.state.publisher.submit)


def _actor(request: Request) -> Actor:
    return Actor(request.state.principal, "api")


def _handled(endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
    async def wrapped(request: Request) -> Response:
        try:
            result: Response = await endpoint(request)
        except BadInput as exc:
            return error(
                422, "invalid_request", "the request has invalid fields", errors=exc.errors
            )
        return result

    wrapped.__name__ = endpoint.__name__
    wrapped.__doc__ = endpoint.__doc__
    return wrapped


def _read(request: Request, fn: Callable[[Any], Any]) -> Any:
    with request.app.state.engine.connect() as conn:
        return fn(conn)


def _result(result: ReplayResult) -> Response:
    return ORJSONResponse(result.as_dict())


@require_scope("ops")
@_handled
async def list_dead_letters(request: Request) -> Response:
    """GET /v1/ops/dead-letters."""
    flt = DeadLetterFilter(
        request.query_params.get("type") or None,
        _param(request, "since", parse_since),
        request.query_params.get("error") or None,
    )
    limit = _limit(request)
    before = _param(request, "before", int)
    include = bool(_param(request, "include_replayed", _flag))
    rows = await run_in_threadpool(
        _read,
        request,
        lambda c: queries.list_dead_letters(
            c, flt, limit=limit, before_id=before, include_replayed=include
        ),
    )
    nxt = rows[-1]["id"] if len(rows) == limit else None
    return ORJSONResponse({"data": rows, "next_before": nxt})


@require_scope("ops")
@_handled
async def get_dead_letter(request: Request) -> Response:
    """GET /v1/ops/dead-letters/{id}."""
    ref = request.path_params["id"]
    detail = await run_in_threadpool(_read, request, lambda c: queries.get_dead_letter(c, ref))
    if detail is None:
        return error(404, "not_found", f"no dead letter {ref!r}")
    return ORJSONResponse(detail)


@require_scope("ops")
@_handled
async def replay_dead_letter(request: Request) -> Response:
    """POST /v1/ops/dead-letters/{id}/replay."""
    ref = request.path_params["id"]
    body = await _body(request, ReplayRequest)
    result = await run_in_threadpool(
        _service(request).replay_dead_letters,
        _actor(request),
        refs=[ref],
        reason=body.reason,
        dry_run=body.dry_run,
    )
    if ref in result.skipped and result.skipped[ref] == "no such dead letter":
        return error(404, "not_found", f"no dead letter {ref!r}")
    return _result(result)


@require_scope("ops")
@_handled
async def replay_dead_letters(request: Request) -> Response:
    """POST /v1/ops/dead-letters/replay."""
    body = await _body(request, BulkReplayRequest)
    try:
        since = parse_since(body.since) if body.since else None
    except ValueError as exc:
        raise BadInput([{"loc": ["body", "since"], "msg": str(exc)}]) from None
    flt = DeadLetterFilter(body.type, since, body.error)
    if body.ids and (body.all or not flt.is_empty):
        raise BadInput([{"loc": ["body", "ids"], "msg": "give ids or a filter/all, not both"}])
    try:
        result = await run_in_threadpool(
            _service(request).replay_dead_letters,
            _actor(request),
            refs=body.ids,
            flt=flt,
            everything=body.all,
            reason=body.reason,
            dry_run=body.dry_run,
        )
    except NothingSelected as exc:
        raise BadInput([{"loc": ["body"], "msg": str(exc)}]) from None
    return _result(result)


def _cursor(raw: str) -> tuple[datetime, str]:
    try:
        at, event_id = orjson.loads(base64.urlsafe_b64decode(raw.encode()))
        return datetime.fromisoformat(at), str(event_id)
    except (ValueError, TypeError) as exc:
        raise ValueError("not a cursor from a previous page") from exc


def _encode_cursor(row: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(
        orjson.dumps([row["received_at"].isoformat(), row["event_id"]])
    ).decode()


@require_scope("ops")
@_handled
async def list_events(request: Request) -> Response:
    """GET /v1/ops/events."""
    flt = EventFilter(
        _param(request, "status", EventStatus),
        request.query_params.get("type") or None,
        _param(request, "since", parse_since),
        request.query_params.get("source") or None,
    )
    limit = _limit(request)
    before = _param(request, "cursor", _cursor)
    rows = await run_in_threadpool(
        _read, request, lambda c: queries.list_events(c, flt, limit=limit, before=before)
    )
    nxt = _encode_cursor(rows[-1]) if len(rows) == limit else None
    return ORJSONResponse({"data": rows, "next_cursor": nxt})


@require_scope("ops")
@_handled
async def get_event(request: Request) -> Response:
    """GET /v1/ops/events/{event_id}."""
    event_id = request.path_params["event_id"]
    detail = await run_in_threadpool(_read, request, lambda c: queries.get_event(c, event_id))
    if detail is None:
        return error(404, "not_found", f"no event {event_id!r}")
    return ORJSONResponse(detail)


@require_scope("ops")
@_handled
async def replay_event(request: Request) -> Response:
    """POST /v1/ops/events/{event_id}/replay."""
    event_id = request.path_params["event_id"]
    body = await _body(request, EventReplayRequest)
    result = await run_in_threadpool(
        _service(request).replay_events,
        _actor(request),
        [event_id],
        force=body.force,
        reason=body.reason,
        dry_run=body.dry_run,
    )
    why = result.skipped.get(event_id)
    if why == "no such event":
        return error(404, "not_found", f"no event {event_id!r}")
    if why is not None:
        return error(409, "not_replayable", f"event {event_id} is {why}", reason=why)
    return _result(result)


@require_scope("ops")
@_handled
async def stats(request: Request) -> Response:
    """GET /v1/ops/stats."""
    snap = await run_in_threadpool(_read, request, lambda c: collect(c, utcnow()))
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
