"""`billing commands list|show|retry`: outbound Stripe commands, and re-running dead ones."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.panel import Panel

from domain.commands.models import CommandStatus
from domain.ops.command_retry import CommandRetryResult, CommandRetryService
from domain.ops.commands import get_command_detail, list_commands
from workers.ops_cli.render import (
    DRY_RUN_OPTION,
    JSON_OPTION,
    REASON_OPTION,
    YES_OPTION,
    actor,
    confirm,
    emit_json,
    engine,
    err,
    out,
    print_result,
    runtime,
    since_option,
    table,
    when,
)

app = typer.Typer(
    help="Inspect outbound Stripe commands and retry dead ones.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def make_retry_service() -> CommandRetryService:
    """A retry service on this process's database that publishes through Celery."""
    from workers.celery_app import app as celery
    from workers.enqueue import publish_commands

    return CommandRetryService(runtime().engine, lambda ids: publish_commands(celery, ids))


@app.command("list")
def list_(
    status: Annotated[CommandStatus | None, typer.Option(help="Only this status.")] = None,
    command_type: Annotated[str | None, typer.Option("--type", help="Only this type.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Created at or after: 2h, 30m, 7d or an ISO date/time.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows.")] = 50,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """List commands, newest first."""
    with engine().connect() as conn:
        rows = list_commands(
            conn,
            status=status.value if status else None,
            command_type=command_type,
            since=since_option(since),
            limit=limit,
        )
    if as_json:
        emit_json(rows)
        return
    out.print(
        table(
            f"{len(rows)} command(s)",
            ["command id", "type", "account", "status", "tries", "created", "last error"],
            (
                (
                    r["id"],
                    r["type"],
                    r["account_ref"],
                    r["status"],
                    r["attempts"],
                    when(r["created_at"]),
                    (r["last_error"] or "")[:60],
                )
                for r in rows
            ),
        )
    )


@app.command()
def show(
    command_id: Annotated[str, typer.Argument(help="Command id (cmd_...).")],
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """One command: lifecycle, Stripe's error, params (personal data redacted), retries."""
    with engine().connect() as conn:
        detail = get_command_detail(conn, command_id)
    if detail is None:
        err.print(f"[red]no command {command_id!r}[/red]")
        raise typer.Exit(1)
    if as_json:
        emit_json(detail)
        return
    e: dict[str, Any] = detail["error"] or {}
    out.print(
        Panel(
            f"type     {detail['type']}  account {detail['account_ref']}"
            f"  (by {detail['principal']})\n"
            f"status   {detail['status']}  attempts {detail['attempts']}\n"
            f"created  {when(detail['created_at'])}  finished {when(detail['finished_at'])}\n"
            f"next try {when(detail['next_attempt_at'])}\n"
            f"error    {e.get('type', '-')}/{e.get('code') or '-'}"
            f"  decline={e.get('decline_code') or '-'}  {e.get('message', '')}\n"
            f"params   {detail['params']}\n"
            f"result   {detail['result'] or '-'}",
            title=f"command {detail['id']}",
        )
    )
    out.print(
        table(
            "retries by ops",
            ["audit", "at", "who", "reason"],
            (
                (r["id"], when(r["at"]), f"{r['actor']} ({r['via']})", r["reason"])
                for r in detail["retries"]
            ),
        )
    )


@app.command()
def retry(
    command_ids: Annotated[list[str] | None, typer.Argument(help="Command ids.")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Every dead command.")] = False,
    dry_run: Annotated[bool, DRY_RUN_OPTION] = False,
    yes: Annotated[bool, YES_OPTION] = False,
    reason: Annotated[str | None, REASON_OPTION] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Re-queue dead or failed commands with a fresh attempt budget (audited)."""
    ids = command_ids or []
    if bool(ids) == all_dead:
        raise typer.BadParameter("give command ids or --all-dead", param_hint="COMMAND_IDS")
    if (all_dead or len(ids) > 1) and not dry_run:
        confirm("Retry every dead command?" if all_dead else f"Retry {len(ids)} commands?", yes)
    result = make_retry_service().retry(
        actor(), ids, all_dead=all_dead, reason=reason, dry_run=dry_run
    )
    _print(result, as_json)


def _print(result: CommandRetryResult, as_json: bool) -> None:
    print_result(result, as_json, action="retry", done="retried", noun="command")
