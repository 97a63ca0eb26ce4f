"""Commands: list (by status), detail (redacted params), retry (audited, reason required)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from domain.commands.models import CommandStatus
from domain.input_types import is_ident
from domain.ops.command_retry import CommandRetryService
from domain.ops.commands import get_command_detail, list_commands
from ingest.console.pages import action, actor, page, problem, reason_of, render, run_read

STATUSES = [s.value for s in CommandStatus]


@page
async def list_ops_commands(request: Request) -> Response:
    """GET /ops/commands?status=."""
    status = request.query_params.get("status", "").strip() or None
    if status is not None and status not in STATUSES:
        return problem(request, 422, "Bad search", "not a command status")
    rows = await run_in_threadpool(
        run_read, request, lambda c: list_commands(c, status=status, limit=50)
    )
    return render(request, "commands.html", {"rows": rows, "status": status, "statuses": STATUSES})


async def _command_page(
    request: Request, command_id: str, message: str | None = None, status: int = 200
) -> Response:
    found = None
    if is_ident(command_id):
        found = await run_in_threadpool(
            run_read, request, lambda c: get_command_detail(c, command_id)
        )
    if found is None:
        return problem(request, 404, "No such command", "no command with this id")
    return render(request, "command.html", {"command": found, "message": message}, status)


@page
async def show_command(request: Request) -> Response:
    """GET /ops/commands/{id}."""
    return await _command_page(request, request.path_params["id"])


@action
async def retry_command(request: Request, form: dict[str, str]) -> Response:
    """POST /ops/commands/{id}/retry: the ops API's retry service, audited."""
    command_id = request.path_params["id"]
    if not is_ident(command_id):
        return problem(request, 404, "No such command", "no command with this id")
    reason = reason_of(form)
    if reason is None:
        return await _command_page(request, command_id, "A reason is required.", 422)
    service = CommandRetryService(request.app.state.engine, request.app.state.publish_commands)
    result = await run_in_threadpool(service.retry, actor(request), [command_id], reason=reason)
    why = result.skipped.get(command_id)
    if why == "no such command":
        return problem(request, 404, "No such command", "no command with this id")
    message = f"Not retried: {why}." if why else f"Re-queued (audit #{result.audit_id})."
    return await _command_page(request, command_id, message, 409 if why else 200)
