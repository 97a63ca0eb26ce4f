"""Ops sub-commands of `billing`: dead letters, events, commands, backfill, stats, usage,
prune, reconcile."""

from __future__ import annotations

import typer


def register_ops(cli: typer.Typer) -> None:
    """Attach the ops sub-apps to the main `billing` app."""
    from workers.ops_cli.backfill import backfill
    from workers.ops_cli.commands import app as commands
    from workers.ops_cli.dead_letters import app as dead_letters
    from workers.ops_cli.events import app as events
    from workers.ops_cli.prune import prune
    from workers.ops_cli.reconcile import reconcile
    from workers.ops_cli.stats import stats
    from workers.ops_cli.usage import app as usage

    cli.add_typer(dead_letters, name="dead-letters")
    cli.add_typer(events, name="events")
    cli.add_typer(commands, name="commands")
    cli.command("backfill")(backfill)
    cli.command("stats")(stats)
    cli.add_typer(usage, name="usage")
    cli.command("prune")(prune)
    cli.command("reconcile")(reconcile)
