"""Ops sub-commands of `billing`: dead letters, events, stats (registered by `register_ops`)."""

from __future__ import annotations

import typer


def register_ops(cli: typer.Typer) -> None:
    """Attach the ops sub-apps to the main `billing` app."""
    from workers.ops_cli.dead_letters import app as dead_letters
    from workers.ops_cli.events import app as events
    from workers.ops_cli.stats import stats

    cli.add_typer(dead_letters, name="dead-letters")
    cli.add_typer(events, name="events")
    cli.command("stats")(stats)
