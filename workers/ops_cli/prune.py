"""`billing prune`: delete finished events past RETENTION_DAYS, archiving them first."""

from __future__ import annotations

from typing import Annotated

import typer

from workers.ops_cli.render import JSON_OPTION, emit_json, engine, err, out, runtime, table
from workers.prune import PruneConfig, PruneResult
from workers.prune import prune as run_prune


def prune_config() -> PruneConfig:
    return PruneConfig.from_settings(runtime().settings)


def prune(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be pruned and what is kept.")
    ] = False,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Prune the event log: finished events received more than RETENTION_DAYS ago.

    Never an unfinished or dead event, nor one replayed or dead-lettered within the
    horizon. With ARCHIVE_DIR set, raw payloads are archived (gzip JSON-lines per day) first.
    """
    config = prune_config()
    try:
        result = run_prune(engine(), config, dry_run=dry_run)
    except OSError as exc:
        err.print(
            f"[red]could not write the archive in {config.archive_dir}: {exc.strerror}; "
            "the batch being archived was not deleted (batches before it were)[/red]"
        )
        raise typer.Exit(1) from None
    if as_json:
        emit_json(result.as_dict())
        return
    _print(result)


def _print(result: PruneResult) -> None:
    verb = "would prune" if result.dry_run else "pruned"
    archived = "" if result.dry_run else f", archived {result.archived}"
    out.print(
        f"[bold]{verb} {result.deleted.total} event(s)[/bold] received before "
        f"{result.cutoff:%Y-%m-%d %H:%M:%S} UTC (RETENTION_DAYS={result.retention_days})"
        f"{archived}"
    )
    d = result.deleted
    rows = [
        *((f"events {status}", n) for status, n in sorted(d.events.items())),
        ("attempts", d.attempts),
        ("dead letters", d.dead_letters),
        ("audit links", d.audit_links),
    ]
    out.print(table(None, ["rows", "count"], rows))
    if result.kept:
        out.print(table("older but kept", ["why", "events"], sorted(result.kept.items())))
    for path in result.archive_files:
        out.print(f"archive  {path}")
