"""`billing stats`: counts by status and type, backlog, oldest unprocessed, dead letters."""

from __future__ import annotations

from typing import Annotated

from domain.ops.stats import collect
from domain.types import utcnow
from workers.ops_cli.render import JSON_OPTION, emit_json, engine, out, table


def stats(as_json: Annotated[bool, JSON_OPTION] = False) -> None:
    """Pipeline health at a glance: backlog, oldest unprocessed age, dead letters by error."""
    with engine().connect() as conn:
        snap = collect(conn, utcnow())
    if as_json:
        emit_json(snap.as_dict())
        return
    age = snap.oldest_unprocessed_age_seconds
    out.print(f"oldest unprocessed event: {'none' if age is None else f'{age:.0f}s ago'}")
    out.print(table("backlog", ["status", "events"], snap.backlog.items()))
    statuses = sorted({s for per in snap.by_type.values() for s in per})
    out.print(
        table(
            "events by type",
            ["type", *statuses],
            ([t, *(per.get(s, 0) for s in statuses)] for t, per in sorted(snap.by_type.items())),
        )
    )
    out.print(
        table(
            f"dead letters: {snap.dead_letters}",
            ["error type", "events"],
            sorted(snap.dead_letters_by_error.items(), key=lambda kv: -kv[1]),
        )
    )
    if snap.commands_by_status is not None:
        rows = [(t, s, n) for t, per in snap.commands_by_status.items() for s, n in per.items()]
        out.print(table("commands", ["type", "status", "count"], rows))
        if snap.dead_commands:
            out.print(
                f"[red]dead commands: {snap.dead_commands}[/red]"
                " (billing commands list --status dead; billing commands retry --all-dead)"
            )
    if snap.notifications_by_status is not None:
        out.print(
            table("notifications", ["delivery", "count"], snap.notifications_by_status.items())
        )
