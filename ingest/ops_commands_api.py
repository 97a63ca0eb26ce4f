"""Ops API for commands: list, show and retry dead/failed ones (bearer token, `ops` scope)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.commands.models import CommandStatus
from domain.ops.command_retry import CommandRetryService
from domain.ops.commands import get_command_detail, list_commands
from domain.ops.filters import parse_since
from ingest.auth import require_scope
from ingest.openapi import path_param, query_param
from ingest.ops_api import _actor, _body, _handled, _limit, _param, _read
from ingest.ops_docs import LIMIT, SINCE, STRING, _op
from ingest.ops_schemas_more import (
    CommandDetail,
    CommandPage,
    CommandRetryRequest,
    CommandRetryResponse,
)
from ingest.responses import ORJSONResponse, error


@require_scope("ops")
@_handled
async def list_ops_commands(request: Request) -> Response:
    """GET /v1/ops/commands."""
    status = _param(request, "status", CommandStatus)
    command_type = request.query_params.get("type") or None
    since = _param(request, "since", parse_since)
    limit = _limit(request)
    before = _param(request, "before", int)
    rows = await run_in_threadpool(
        _read,
        request,
        lambda c: list_commands(
            c,
            status=status.value if status else None,
            command_type=command_type,
            since=since,
            limit=limit,
            before_seq=before,
        ),
    )
    nxt = rows[-1]["seq"] if len(rows) == limit else None
    return ORJSONResponse({"data": rows, "next_before": nxt})


@require_scope("ops")
@_handled
async def get_ops_command(request: Request) -> Response:
    """GET /v1/ops/commands/{id}."""
    command_id = request.path_params["id"]
    detail = await run_in_threadpool(_read, request, lambda c: get_command_detail(c, command_id))
    if detail is None:
        return error(404, "not_found", f"no command {command_id!r}")
    return ORJSONResponse(detail)


@require_scope("ops")
@_handled
async def retry_ops_command(request: Request) -> Response:
    """POST /v1/ops/commands/{id}/retry."""
    command_id = request.path_params["id"]
    body = await _body(request, CommandRetryRequest)
    # The app's command publisher swallows broker errors: the sweeper re-publishes the row.
    service = CommandRetryService(request.app.state.engine, request.app.state.publish_commands)
    result = await run_in_threadpool(
        service.retry, _actor(request), [command_id], reason=body.reason, dry_run=body.dry_run
    )
    why = result.skipped.get(command_id)
    if why == "no such command":
        return error(404, "not_found", f"no command {command_id!r}")
    if why is not None:
        return error(409, "not_retryable", f"command {command_id} is {why}", reason=why)
    return ORJSONResponse(result.as_dict())


COMMAND_OPS_ROUTES = [
    Route("/v1/ops/commands", list_ops_commands, methods=["GET"]),
    Route("/v1/ops/commands/{id}", get_ops_command, methods=["GET"]),
    Route("/v1/ops/commands/{id}/retry", retry_ops_command, methods=["POST"]),
]

_op(
    "GET",
    "/v1/ops/commands",
    "List commands, newest first (dead ones with status=dead)",
    parameters=(
        query_param("status", STRING, "queued, running, retrying, succeeded, failed, dead"),
        query_param("type", STRING, "command type"),
        SINCE,
        LIMIT,
        query_param("before", {"type": "integer"}, "page: commands with seq below this"),
    ),
    responses={200: ("a page", CommandPage)},
)
_op(
    "GET",
    "/v1/ops/commands/{id}",
    "A command: lifecycle, Stripe's error, redacted params, ops retries",
    parameters=(path_param("id", "command id (cmd_...)"),),
    responses={200: ("the command", CommandDetail), 404: ("no such command", None)},
)
_op(
    "POST",
    "/v1/ops/commands/{id}/retry",
    "Re-queue a dead or failed command with a fresh attempt budget (audited)",
    parameters=(path_param("id", "command id (cmd_...)"),),
    request=CommandRetryRequest,
    responses={
        200: ("re-queued (or, dry run, would be)", CommandRetryResponse),
        404: ("no such command", None),
        409: ("not dead or failed", None),
    },
)
