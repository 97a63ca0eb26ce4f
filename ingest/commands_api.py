"""POST /v1/commands and GET /v1/commands/{id}: the product enqueues Stripe calls here."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from domain.commands import store
from domain.commands.models import FINISHED
from domain.commands.store import NewCommand
from domain.input_types import COMMAND_ID_LENGTH
from domain.types import utcnow
from ingest.auth import require_scope
from ingest.command_models import CommandRequest, CommandView
from ingest.inputs import InvalidInput, parse_query, path_id, read_json, validate_body
from ingest.openapi import Operation, document, path_param
from ingest.responses import ORJSONResponse, error

log = structlog.get_logger("ingest.commands")
MAX_KEY_LENGTH = 255
MAX_BODY_BYTES = 64 * 1024


class WaitQuery(BaseModel):
    """`GET /v1/commands/{id}?wait=N`: hold the request until the command finishes."""

    model_config = ConfigDict(extra="forbid")

    wait: float = Field(
        default=0.0,
        ge=0,
        allow_inf_nan=False,
        description="hold the request up to this many seconds (at most COMMAND_WAIT_MAX_SECONDS)",
    )


document(
    Operation(
        "POST",
        "/v1/commands",
        "Enqueue a billing command (executed once by a worker)",
        "commands",
        scope="commands",
        request=CommandRequest,
        parameters=(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
                "description": "same key and body -> the same command; other body -> 409",
            },
        ),
        responses={
            200: ("this key was used before with the same body: that command", CommandView),
            202: ("stored and queued", CommandView),
            400: ("no or a bad Idempotency-Key, or the body is not a JSON object", None),
            413: ("body over 64 KiB (`body_too_large`)", None),
            409: ("this key was used before with another body", None),
            422: ("invalid command (`invalid_command`): `fields` names each", None),
        },
    )
)
document(
    Operation(
        "GET",
        "/v1/commands/{id}",
        "A command's status, result or error",
        "commands",
        scope="commands",
        parameters=(path_param("id", "the command id (cmd_...)", COMMAND_ID_LENGTH),),
        query=WaitQuery,
        responses={200: ("the command", CommandView), 404: ("no such command", None)},
    )
)


def command_view(row: dict[str, Any]) -> dict[str, Any]:
    """The public shape of a stored command."""
    return {
        "id": row["id"],
        "url": f"/v1/commands/{row['id']}",
        "type": row["type"],
        "account_ref": row["account_ref"],
        "status": str(row["status"]),
        "attempts": row["attempts"],
        "params": row["params"],
        "result": row["result"],
        "error": row["error"],
        "created_at": row["created_at"],
        "finished_at": row["finished_at"],
        "next_attempt_at": row["next_attempt_at"],
    }


def _insert(request: Request, cmd: NewCommand) -> tuple[dict[str, Any], bool]:
    with Session(request.app.state.engine) as session, session.begin():
        return store.insert_command(session, cmd, utcnow())


@require_scope("commands")
async def create_command(request: Request) -> Response:
    """Validate, store (committed before the answer), answer, then publish."""
    key = request.headers.get("idempotency-key", "").strip()
    if not key:
        return error(400, "idempotency_key_required", "send an Idempotency-Key header")
    if len(key) > MAX_KEY_LENGTH:
        return error(400, "idempotency_key_too_long", f"at most {MAX_KEY_LENGTH} characters")
    if not key.isprintable():  # stored in a text column: no NUL or other control characters
        return error(400, "idempotency_key_invalid", "printable characters only")
    # Refused before the whole body is read past the limit (413), as for webhooks.
    doc = await read_json(request, MAX_BODY_BYTES)
    if not isinstance(doc, dict):
        return error(400, "invalid_json", "body must be a JSON object")
    catalog = request.app.state.plan_catalog
    parsed: Any = validate_body(
        CommandRequest, doc, code="invalid_command", tag_field="type", context={"catalog": catalog}
    ).root
    cmd = NewCommand(
        principal=request.state.principal,
        idempotency_key=key,
        type=parsed.type,
        account_ref=parsed.account_ref,
        params=parsed.params.model_dump(mode="json"),
    )
    row, created = await run_in_threadpool(_insert, request, cmd)
    if not created:
        if row["request_hash"] != cmd.request_hash:
            return error(
                409, "idempotency_conflict", "this Idempotency-Key was used with another body"
            )
        return ORJSONResponse(command_view(row), status_code=200)
    log.info("command.accepted", command_id=row["id"], command_type=cmd.type)
    # After the response: the row is committed, and a lost publish is the sweeper's job.
    task = BackgroundTask(request.app.state.publish_commands, [row["id"]])
    return ORJSONResponse(command_view(row), status_code=202, background=task)


def _load(request: Request, command_id: str) -> dict[str, Any] | None:
    with Session(request.app.state.engine) as session:
        return store.get_command(session, command_id)


@require_scope("commands")
async def get_command(request: Request) -> Response:
    """The command; with `?wait=N` poll the database (asynchronously) until it finishes."""
    limit = request.app.state.settings.command_wait_max_seconds
    wait = parse_query(WaitQuery, request).wait
    if wait > limit:
        raise InvalidInput.one("wait", f"at most {limit:g} seconds")
    command_id = path_id(request, "id", "command", max_length=COMMAND_ID_LENGTH)
    deadline = time.monotonic() + wait
    pause = 0.05
    while True:
        row = await run_in_threadpool(_load, request, command_id)
        if row is None or row["principal"] != request.state.principal:
            return error(404, "not_found", "no command with this id")
        remaining = deadline - time.monotonic()
        if row["status"] in FINISHED or remaining <= 0:
            return ORJSONResponse(command_view(row))
        # An asyncio sleep holds no thread: many waiting requests cost a coroutine each.
        await asyncio.sleep(min(pause, remaining))
        pause = min(pause * 1.5, 0.5)
