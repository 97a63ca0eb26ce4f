"""`billing dead-letters list|show|replay`: what died, why, and putting it back in the queue."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from domain.ops import queries
from domain.ops.filters import DeadLetterFilter
from domain.ops.replay import dead_letter_types
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
    make_service,
    out,
    print_history,
    print_result,
    since_option,
    table,
    when,
)

app = typer.Typer(
    help="Inspect and replay events whose retries ran out.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

TypeOpt = Annotated[str | None, typer.Option("--type", help="Only this event type.")]
SinceOpt = Annotated[
    str | None, typer.Option(help="Failed at or after: 2h, 30m, 7d or an ISO date/time.")
]
ErrorOpt = Annotated[
    str | None, typer.Option("--error", help="Error type or message contains this text.")
]


@app.command("list")
def list_(
    event_type: TypeOpt = None,
    since: SinceOpt = None,
    error: ErrorOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows per page.")] = 50,
    before: Annotated[int | None, typer.Option(help="Page: ids below this one.")] = None,
    include_replayed: Annotated[
        bool, typer.Option("--include-replayed", help="Also those replayed since.")
    ] = False,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """List dead letters, newest first (by default only events still dead)."""
    flt = DeadLetterFilter(event_type, since_option(since), error)
    with engine().connect() as conn:
        rows = queries.list_dead_letters(
            conn, flt, limit=limit, before_id=before, include_replayed=include_replayed
        )
    if as_json:
        emit_json(rows)
        return
    out.print(
        table(
            f"{len(rows)} dead letter(s)",
            ["id", "event id", "type", "failed at", "tries", "error", "replays"],
            (
                (
                    r["id"],
                    r["event_id"],
                    r["type"],
                    when(r["failed_at"]),
                    r["attempts"],
                    f"{r['error_type']}: {r['error_message'][:80]}",
                    r["replay_count"],
                )
                for r in rows
            ),
        )
    )
    if len(rows) == limit:
        err.print(f"more: --before {rows[-1]['id']}")


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="Dead-letter id or event id.")],
    full: Annotated[bool, typer.Option("--full", help="Whole traceback.")] = False,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """One dead letter: event summary, error, traceback, attempt history, replays."""
    with engine().connect() as conn:
        detail = queries.get_dead_letter(conn, ref)
    if detail is None:
        err.print(f"[red]no dead letter {ref!r}[/red]")
        raise typer.Exit(1)
    if as_json:
        emit_json(detail)
        return
    event = detail["event"] or {}
    summary = event.get("payload_summary", {})
    out.print(
        Panel(
            f"event  {detail['event_id']}  ({detail['type']}, now {detail['status']})\n"
            f"object {summary.get('object')} {summary.get('id')}  "
            f"status={summary.get('status', '-')}  customer={summary.get('customer', '-')}\n"
            f"failed {when(detail['failed_at'])} after {detail['attempts']} attempt(s); "
            f"replayed {detail['replay_count']} time(s)",
            title=f"dead letter #{detail['id']}",
        )
    )
    out.print(f"[bold red]{detail['error_type']}[/bold red]: {detail['error_message']}")
    lines = detail["traceback"].splitlines()
    out.print(Panel("\n".join(lines if full else lines[-25:]) or "-", title="traceback"))
    print_history(detail)


@app.command()
def replay(
    refs: Annotated[
        list[str] | None, typer.Argument(help="Dead-letter ids or event ids.", show_default=False)
    ] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every dead letter.")] = False,
    event_type: TypeOpt = None,
    since: SinceOpt = None,
    error: ErrorOpt = None,
    dry_run: Annotated[bool, DRY_RUN_OPTION] = False,
    yes: Annotated[bool, YES_OPTION] = False,
    reason: Annotated[str | None, REASON_OPTION] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Put dead letters back in the queue with a fresh retry budget (history is kept).

    Give ids, or select by --type/--since/--error, or --all.
    Fix the cause first: an event that fails again goes back to dead after its retries.
    """
    flt = DeadLetterFilter(event_type, since_option(since), error)
    if refs and (everything or not flt.is_empty):
        raise typer.BadParameter("give ids or a filter/--all, not both")
    if not refs and flt.is_empty and not everything:
        raise typer.BadParameter("give dead-letter ids, a filter (--type/--since/--error) or --all")
    service = make_service()
    if refs:
        if len(refs) > 1 and not dry_run:
            confirm(f"Replay {len(refs)} dead letters?", yes)
        print_result(
            service.replay_dead_letters(actor(), refs=refs, reason=reason, dry_run=dry_run),
            as_json,
        )
        return
    if not dry_run:
        with engine().connect() as conn:
            types = dead_letter_types(conn, flt)
        total = sum(types.values())
        if total == 0:
            err.print("nothing matches: no dead letter replayed")
            print_result(service.replay_dead_letters(actor(), flt=flt, everything=True), as_json)
            return
        breakdown = ", ".join(f"{t}: {n}" for t, n in types.items())
        confirm(f"Replay {total} dead letter(s) ({breakdown})?", yes)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=dry_run or as_json,
    ) as bar:
        task = bar.add_task("replaying", total=None)
        result = service.replay_dead_letters(
            actor(),
            flt=flt,
            everything=everything,
            reason=reason,
            dry_run=dry_run,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    print_result(result, as_json)
