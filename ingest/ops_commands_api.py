"""Ops API for commands: list, show and retry dead/failed ones (bearer token, `ops` scope)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.input_types import COMMAND_ID_LENGTH
from domain.ops.command_retry import CommandRetryService
from domain.ops.commands import get_command_detail, list_commands
from ingest.auth import require_scope
from ingest.inputs import parse_body, parse_query, path_id
from ingest.openapi import path_param
from ingest.ops_api import actor, read
from ingest.ops_docs import ops_operation
from ingest.ops_schemas_commands import (
    CommandDetail,
    CommandPage,
    CommandQuery,
    CommandRetryRequest,
    CommandRetryResponse,
)
from ingest.responses import ORJSONResponse, error


def _command_id(request: Request) -> str:
    return path_id(request, "id", "command", max_length=COMMAND_ID_LENGTH)


@require_scope("ops")
async def list_ops_commands(request: Request) -> Response:
    """GET /v1/ops/commands."""
    q = parse_query(CommandQuery, request)
    rows = await run_in_threadpool(
        read,
        request,
        lambda c: list_commands(
            c,
            status=q.status.value if q.status else None,
            command_type=q.type,
            since=q.since,
            limit=q.limit,
            before_seq=q.before,
        ),
    )
    nxt = rows[-1]["seq"] if len(rows) == q.limit else None
    return ORJSONResponse({"data": rows, "next_before": nxt})


@require_scope("ops")
async def get_ops_command(request: Request) -> Response:
    """GET /v1/ops/commands/{id}."""
    command_id = _command_id(request)
    detail = await run_in_threadpool(read, request, lambda c: get_command_detail(c, command_id))
    if detail is None:
        return error(404, "not_found", "no command with this id")
    return ORJSONResponse(detail)


@require_scope("ops")
async def retry_ops_command(request: Request) -> Response:
    """POST /v1/ops/commands/{id}/retry."""
    command_id = _command_id(request)
    body = await parse_body(request, CommandRetryRequest)
    # The app's command publisher swallows broker errors: the sweeper re-publishes the row.
    service = CommandRetryService(request.app.state.engine, request.app.state.publish_commands)
    result = await run_in_threadpool(
        service.retry, actor(request), [command_id], reason=body.reason, dry_run=body.dry_run
    )
    why = result.skipped.get(command_id)
    if why == "no such command":
        return error(404, "not_found", "no command with this id")
    if why is not None:
        return error(409, "not_retryable", f"command {command_id} is {why}", reason=why)
    return ORJSONResponse(result.as_dict())


COMMAND_OPS_ROUTES = [
    Route("/v1/ops/commands", list_ops_commands, methods=["GET"]),
    Route("/v1/ops/commands/{id}", get_ops_command, methods=["GET"]),
    Route("/v1/ops/commands/{id}/retry", retry_ops_command, methods=["POST"]),
]

ops_operation(
    "GET",
    "/v1/ops/commands",
    "List commands, newest first (dead ones with status=dead)",
    query=CommandQuery,
    responses={200: ("a page", CommandPage)},
)
ops_operation(
    "GET",
    "/v1/ops/commands/{id}",
    "A command: lifecycle, Stripe's error, redacted params, ops retries",
    parameters=(path_param("id", "command id (cmd_...)", COMMAND_ID_LENGTH),),
    responses={200: ("the command", CommandDetail), 404: ("no such command", None)},
)
ops_operation(
    "POST",
    "/v1/ops/commands/{id}/retry",
    "Re-queue a dead or failed command with a fresh attempt budget (audited)",
    parameters=(path_param("id", "command id (cmd_...)", COMMAND_ID_LENGTH),),
    request=CommandRetryRequest,
    responses={
        200: ("re-queued (or, dry run, would be)", CommandRetryResponse),
        404: ("no such command", None),
        409: ("not dead or failed", None),
    },
)
