"""`billing backfill`: fetch missed events from Stripe's Events API, resumably."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from domain.ops.backfill import BackfillRefused, BackfillResult, BackfillService
from workers.ops_cli.render import (
    JSON_OPTION,
    REASON_OPTION,
    YES_OPTION,
    actor,
    confirm,
    emit_json,
    err,
    out,
    runtime,
    since_option,
    table,
)


def make_backfill(page_size: int) -> BackfillService:
    """A backfill service on this process's database, publishing through Celery."""
    from domain import event_log
    from domain.types import utcnow
    from workers.backfill import backfill_service
    from workers.celery_app import app as celery
    from workers.enqueue import publish_events

    rt = runtime()

    def publish(ids: Sequence[str]) -> None:
        publish_events(celery, ids, rt.settings.publish_batch_size)
        with rt.engine.begin() as conn:  # received -> queued, so the sweeper leaves them be
            event_log.mark_published(conn, ids, utcnow())

    return backfill_service(rt.engine, rt.settings, publish, page_size=page_size)


def _types(values: list[str] | None) -> list[str]:
    return [t.strip() for v in values or [] for t in v.split(",") if t.strip()]


@contextmanager
def _progress(enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn("[bold]backfill[/bold]"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with bar:
        yield bar


def backfill(
    since: Annotated[
        str | None,
        typer.Option(help="Events created at or after: 6h, 2d or an ISO date (30 days at most)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the last unfinished backfill.")
    ] = False,
    types: Annotated[
        list[str] | None,
        typer.Option("--types", help="Only these event types (repeat or comma-separate)."),
    ] = None,
    undelivered_only: Annotated[
        bool,
        typer.Option(
            "--undelivered-only", help="Only events Stripe failed to deliver to an endpoint."
        ),
    ] = False,
    max_pages: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many pages (resume later).")
    ] = None,
    page_size: Annotated[int, typer.Option(min=1, max=100, help="Events per page.")] = 100,
    yes: Annotated[bool, YES_OPTION] = False,
    reason: Annotated[str | None, REASON_OPTION] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Store events Stripe has but we do not (deduplicated by id) and process them."""
    if resume == (since is not None):
        raise typer.BadParameter("give either --since or --resume", param_hint="--since")
    if resume and (types or undelivered_only):
        raise typer.BadParameter(
            "--resume continues the stored run with its own filters", param_hint="--resume"
        )
    start = since_option(since)
    kinds = _types(types)
    if start is not None:
        what = f"events created since {start:%Y-%m-%d %H:%M} UTC"
        what += f" of types {', '.join(kinds)}" if kinds else ""
        what += " that Stripe failed to deliver" if undelivered_only else ""
        confirm(f"Fetch {what} from Stripe and process the missing ones?", yes)
    else:
        confirm("Resume the last unfinished backfill?", yes)
    service = make_backfill(page_size)
    with _progress(not as_json) as bar:
        task = bar.add_task("", total=1.0) if bar else None

        def tick(r: BackfillResult) -> None:
            if bar is not None and task is not None:
                seen = f"seen {r.seen}, new {r.new}, already had {r.already_had}"
                bar.update(task, completed=r.fraction, description=seen)

        try:
            if start is not None:
                result = service.start(
                    actor(),
                    start,
                    types=kinds,
                    undelivered_only=undelivered_only,
                    reason=reason,
                    max_pages=max_pages,
                    progress=tick,
                )
            else:
                result = service.resume(actor(), reason=reason, max_pages=max_pages, progress=tick)
        except BackfillRefused as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    _report(result, as_json)


def _when(unix: int | None) -> str:
    return "-" if unix is None else f"{datetime.fromtimestamp(unix, UTC):%Y-%m-%d %H:%M:%S}"


def _report(result: BackfillResult, as_json: bool) -> None:
    """The summary (seen, new, already had); exit 1 when the run stopped on an error."""
    if as_json:
        emit_json(result.as_dict())
    else:
        rows = [
            ("run", f"#{result.run_id} ({result.status}, audit #{result.audit_id})"),
            ("window", f"{_when(result.window_start)} .. {_when(result.window_end)} UTC"),
            ("types", ", ".join(result.types) or "all"),
            ("undelivered only", "yes" if result.undelivered_only else "no"),
            ("pages", result.pages),
            ("seen", result.seen),
            ("new (stored and queued)", result.new),
            ("already had", result.already_had),
            ("added by this call", len(result.added_now)),
        ]
        out.print(table("backfill", ["", "value"], rows))
    if result.publish_failed:
        err.print(
            "[yellow]broker unreachable: the new events are stored and the sweeper "
            "publishes them once the broker answers[/yellow]"
        )
    if result.stopped:
        err.print(
            f"[yellow]stopped ({result.stopped}{': ' + result.error if result.error else ''}); "
            "continue with: billing backfill --resume[/yellow]"
        )
    if result.stopped in ("error", "conflict"):
        raise typer.Exit(1)
