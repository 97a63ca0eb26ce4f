"""`billing events list|show|replay`: the event log, and re-running events (`--force`)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel

from domain.models import EventStatus
from domain.ops import queries
from domain.ops.filters import EventFilter
from domain.settings import load_settings
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
    help="Inspect stored events and re-run them.", no_args_is_help=True, rich_markup_mode=None
)


@app.command("list")
def list_(
    status: Annotated[EventStatus | None, typer.Option(help="Only this status.")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="Only this type.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Received at or after: 2h, 30m, 7d or an ISO date/time.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="webhook, backfill, ...")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows per page.")] = 50,
    after: Annotated[
        str | None,
        typer.Option(help="Next page: the events listed after this event id (older ones)."),
    ] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """List events, newest first, a page at a time (`next:` gives the next page's command)."""
    flt = EventFilter(status, event_type, since_option(since), source)
    with engine().connect() as conn:
        before = None
        if after is not None:
            anchor = queries.get_event(conn, after, with_history=False)
            if anchor is None:
                err.print(f"[red]no event {after!r} (--after)[/red]")
                raise typer.Exit(1)
            before = (anchor["received_at"], anchor["event_id"])
        rows = queries.list_events(conn, flt, limit=limit, before=before)
    if as_json:
        emit_json(rows)
        return
    out.print(
        table(
            f"{len(rows)} event(s)",
            ["event id", "type", "status", "tries", "received", "source", "last error"],
            (
                (
                    r["event_id"],
                    r["type"],
                    r["status"],
                    r["attempts"],
                    when(r["received_at"]),
                    r["source"],
                    (r["last_error"] or "")[:60],
                )
                for r in rows
            ),
        )
    )
    if len(rows) == limit:
        err.print(f"next: billing events list --after {rows[-1]['event_id']} (same filters)")


def archive_dir() -> Path | None:
    # Settings only: reading the archive needs no database (nor creates one).
    return load_settings().archive_dir


@app.command()
def show(
    event_id: Annotated[str, typer.Argument(help="Stripe event id (evt_...).")],
    as_json: Annotated[bool, JSON_OPTION] = False,
    from_archive: Annotated[
        bool, typer.Option("--archive", help="Look in ARCHIVE_DIR (pruned events), not the log.")
    ] = False,
    day: Annotated[
        str | None,
        typer.Option(help="With --archive: only the file of this receive day (YYYY-MM-DD)."),
    ] = None,
    raw: Annotated[
        bool, typer.Option("--raw", help="With --archive: print the raw payload as archived.")
    ] = False,
) -> None:
    """One event: lifecycle, payload summary (no personal data), attempts, replays."""
    if from_archive:
        _show_archived(event_id, _day_option(day), as_json=as_json, raw=raw)
        return
    with engine().connect() as conn:
        detail = queries.get_event(conn, event_id)
    if detail is None:
        err.print(f"[red]no event {event_id!r}[/red]")
        raise typer.Exit(1)
    if as_json:
        emit_json(detail)
        return
    s = detail["payload_summary"]
    dead = detail["dead_letter"]
    out.print(
        Panel(
            f"type     {detail['type']}  (source {detail['source']}, api {detail['api_version']})\n"
            f"status   {detail['status']}  attempts {detail['attempts']}\n"
            f"object   {s.get('object')} {s.get('id')}  status={s.get('status', '-')}"
            f"  customer={s.get('customer', '-')}\n"
            f"received {when(detail['received_at'])}  processed {when(detail['processed_at'])}\n"
            f"error    {detail['last_error'] or '-'}\n"
            f"dead letter {('#' + str(dead['id'])) if dead else '-'}",
            title=f"event {detail['event_id']}",
        )
    )
    print_history(detail)


def _day_option(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter("expected a date such as 2026-09-01", param_hint="--day") from None


def _show_archived(event_id: str, day: date | None, *, as_json: bool, raw: bool) -> None:
    from workers.archive import find_event

    directory = archive_dir()
    if directory is None:
        err.print("[red]ARCHIVE_DIR is not set: there is no archive to read[/red]")
        raise typer.Exit(2)
    record = find_event(directory, event_id, day)
    if record is None:
        err.print(f"[red]no event {event_id!r} in the archive at {directory}[/red]")
        raise typer.Exit(1)
    if raw:  # the payload itself, on explicit request only (it may hold personal data)
        typer.echo(record["raw_body"])
        return
    detail: dict[str, Any] = {k: v for k, v in record.items() if k != "raw_body"}
    detail["payload_summary"] = queries.payload_summary(record["raw_body"])
    detail["archived"] = True
    if as_json:
        emit_json(detail)
        return
    s = detail["payload_summary"]
    out.print(
        Panel(
            f"type     {detail['type']}  (source {detail['source']})\n"
            f"status   {detail['status']}  (archived, pruned from the log)\n"
            f"object   {s.get('object')} {s.get('id')}  status={s.get('status', '-')}"
            f"  customer={s.get('customer', '-')}\n"
            f"received {detail['received_at']}  processed {detail['processed_at'] or '-'}",
            title=f"event {detail['event_id']} (archive)",
        )
    )


@app.command()
def replay(
    event_ids: Annotated[list[str], typer.Argument(help="Stripe event ids.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Also re-run processed/ignored events (handlers are ordering-safe: an old "
            "event never rolls newer state back).",
        ),
    ] = False,
    dry_run: Annotated[bool, DRY_RUN_OPTION] = False,
    yes: Annotated[bool, YES_OPTION] = False,
    reason: Annotated[str | None, REASON_OPTION] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Re-queue events now: dead or retrying ones, and with --force finished ones too."""
    if len(event_ids) > 1 and not dry_run:
        confirm(f"Re-run {len(event_ids)} events?", yes)
    result = make_service().replay_events(
        actor(), event_ids, force=force, reason=reason, dry_run=dry_run
    )
    print_result(result, as_json)
