"""Shared CLI plumbing for ops commands: output (tables or JSON), prompts, the service."""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from domain.ops.audit import Actor
from domain.ops.filters import parse_since
from domain.ops.service import ReplayService
from domain.settings import load_settings

if TYPE_CHECKING:
    from workers.runtime import Runtime

out = Console()
err = Console(stderr=True)

JSON_OPTION = typer.Option("--json", help="Print JSON (for scripts) instead of tables.")
YES_OPTION = typer.Option("--yes", "-y", help="Do not ask for confirmation.")
REASON_OPTION = typer.Option(help="Why (kept in the audit trail, shown by `show`).")
DRY_RUN_OPTION = typer.Option("--dry-run", help="Only report what would be replayed.")


def actor() -> Actor:
    """The OS user running the CLI: the audit trail's `who`."""
    return Actor(getpass.getuser(), "cli")


def runtime() -> Runtime:
    """This process's runtime, refusing a missing SQLite file rather than creating one."""
    from workers.cli_errors import require_database
    from workers.runtime import get_runtime

    require_database(load_settings())
    return get_runtime()


def make_service() -> ReplayService:
    """A replay service on this process's database that publishes through Celery."""
    from workers.celery_app import app as celery
    from workers.enqueue import publish_events

    rt = runtime()
    size = rt.settings.publish_batch_size
    return ReplayService(rt.engine, lambda ids: publish_events(celery, ids, size))


def engine() -> Any:
    return runtime().engine


def since_option(value: str | None) -> datetime | None:
    """Parse `--since` or fail with a usage error naming the option."""
    if value is None:
        return None
    try:
        return parse_since(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None


def emit_json(data: Any) -> None:
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode())


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A rich table; id columns are never wrapped or shortened (they are copied into commands)."""
    t = Table(*columns, title=title, title_justify="left")
    cells = [["-" if v is None else str(v) for v in row] for row in rows]
    for i, column in enumerate(t.columns):
        if i == 0 or "id" in str(column.header):
            column.no_wrap = True
            column.min_width = max([len(str(column.header)), *(len(r[i]) for r in cells)])
    for row in cells:
        t.add_row(*row)
    return t


def confirm(question: str, yes: bool) -> None:
    """Ask before a bulk action unless `--yes`; abort (exit 1) on no."""
    if not yes and not typer.confirm(question, default=False, err=True):
        err.print("[yellow]aborted, nothing changed[/yellow]")
        raise typer.Exit(1)


def print_result(
    result: Any,
    as_json: bool,
    *,
    action: str = "replay",
    done: str = "replayed",
    noun: str = "event",
) -> None:
    """Summarise a replay or retry: counts per type, skipped ids and why, publish problems.

    `result` is a ReplayResult or a CommandRetryResult (same fields).
    """
    if as_json:
        emit_json(result.as_dict())
    else:
        verb = f"would {action}" if result.dry_run else done
        audit = f" (audit #{result.audit_id})" if result.audit_id else ""
        out.print(f"[bold]{verb} {result.count}[/bold]{audit}")
        if result.by_type:
            out.print(table(None, [f"{noun} type", "count"], sorted(result.by_type.items())))
        if result.skipped:
            out.print(table("skipped", ["id", "why"], sorted(result.skipped.items())))
    if result.publish_failed:
        err.print(
            f"[yellow]broker unreachable: the {noun}s are queued in the database and the "
            "sweeper publishes them once the broker answers[/yellow]"
        )
    if result.skipped and not result.count:
        raise typer.Exit(1)


def print_history(detail: dict[str, Any]) -> None:
    """The attempt history and replay audit tables of an event or dead letter."""
    attempts = detail["attempt_history"]
    replays = detail["replays"]
    out.print(
        table(
            "attempt history",
            ["attempt", "failed at", "error"],
            (
                (a["attempt"], when(a["failed_at"]), f"{a['error_type']}: {a['message'][:100]}")
                for a in attempts
            ),
        )
    )
    out.print(
        table(
            "replays",
            ["audit", "at", "who", "action", "was", "reason"],
            (
                (
                    r["id"],
                    when(r["at"]),
                    f"{r['actor']} ({r['via']})",
                    r["action"],
                    r["previous_status"],
                    r["reason"],
                )
                for r in replays
            ),
        )
    )
