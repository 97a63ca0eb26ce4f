"""`billing usage report|dead|replay|reconcile`: usage reporting to Stripe's meters."""

from __future__ import annotations

from typing import Annotated

import typer

from domain.types import utcnow
from domain.usage import report_store
from workers.ops_cli.render import (
    JSON_OPTION,
    YES_OPTION,
    confirm,
    emit_json,
    err,
    out,
    runtime,
    since_option,
    table,
    when,
)

app = typer.Typer(
    help="Report usage to Stripe Billing Meters and check it.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

MeterOpt = Annotated[str | None, typer.Option("--meter", help="Only this meter (event_name).")]


@app.command()
def report(
    once: Annotated[bool, typer.Option("--once", help="Run one pass and exit.")] = False,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Send pending usage to Stripe (closed buckets), in a loop or once."""
    from workers.meters.run import report_once, run_forever
    from workers.runtime import get_gateway

    rt = runtime()
    if not once:
        run_forever(rt, get_gateway())
        return
    outcome = report_once(rt, get_gateway())
    if as_json:
        emit_json({k: v for k, v in outcome.__dict__.items()})
    else:
        out.print(
            f"events sent {outcome.events_sent} in {outcome.requests} requests, records "
            f"reported {outcome.reported_records}, rejected {outcome.rejected_records}, "
            f"waiting for a customer {outcome.waiting_records}"
        )
    if outcome.transient_failure:
        err.print(f"[yellow]stopped early, will retry: {outcome.transient_failure}[/yellow]")
        raise typer.Exit(1)


@app.command()
def dead(
    meter: MeterOpt = None,
    account: Annotated[str | None, typer.Option(help="Only this account_ref.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows.")] = 100,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Usage records Stripe refused for good (or that can never be sent), with why."""

    with runtime().sessions() as session:
        rows = report_store.list_rejected(session, meter=meter, account_ref=account, limit=limit)
    if as_json:
        emit_json([_row(r) for r in rows])
        return
    out.print(
        table(
            f"{len(rows)} rejected usage records",
            ["record id", "account", "meter", "quantity", "occurred", "rejected", "reason"],
            [
                (
                    r.id,
                    r.account_ref,
                    r.meter,
                    r.quantity,
                    when(r.occurred_at),
                    when(r.rejected_at),
                    r.reason,
                )
                for r in rows
            ],
        )
    )


def _row(r: report_store.RejectedUsage) -> dict[str, object]:
    return {
        "id": r.id,
        "account_ref": r.account_ref,
        "meter": r.meter,
        "quantity": r.quantity,
        "occurred_at": r.occurred_at,
        "rejected_at": r.rejected_at,
        "reason": r.reason,
    }


@app.command()
def replay(
    record_ids: Annotated[
        list[str] | None, typer.Argument(help="Record ids (default: all).")
    ] = None,
    meter: MeterOpt = None,
    yes: Annotated[bool, YES_OPTION] = False,
) -> None:
    """Put rejected usage records back to pending; the next pass sends them again."""

    if not record_ids:
        confirm(f"replay every rejected usage record{f' of {meter}' if meter else ''}?", yes)
    with runtime().sessions.begin() as session:
        count = report_store.replay_rejected(session, record_ids or None, meter=meter)
    out.print(f"[bold]replayed {count}[/bold] usage records (pending again)")
    if record_ids and not count:
        raise typer.Exit(1)


@app.command()
def reconcile(
    since: Annotated[str, typer.Option(help="From: 2d, 12h or an ISO date (whole days).")] = "2d",
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Compare reported usage per account, meter and day with Stripe's meter summaries;
    exit 1 when they differ."""
    from workers.meters.reconcile import reconcile as run
    from workers.runtime import get_gateway

    start = since_option(since)
    assert start is not None
    rt = runtime()
    diffs, unknown = run(rt.sessions, get_gateway(), start, utcnow(), rt.settings.meter_ids)
    if as_json:
        emit_json(
            {
                "differences": [{**_diff(d), "delta": d.delta} for d in diffs],
                "unknown_meters": unknown,
            }
        )
    elif diffs:
        out.print(
            table(
                f"{len(diffs)} differences",
                ["account", "customer id", "meter", "day", "reported", "stripe", "delta"],
                [
                    (d.account_ref, d.customer, d.meter, d.day, d.ours, d.stripe, d.delta)
                    for d in diffs
                ],
            )
        )
    else:
        out.print("[green]reported usage matches Stripe's meter summaries[/green]")
    if unknown:
        err.print(f"[yellow]no meter id for {', '.join(unknown)}: set METER_IDS[/yellow]")
    if diffs or unknown:
        raise typer.Exit(1)


def _diff(d: object) -> dict[str, object]:
    fields = ("account_ref", "customer", "meter", "day", "ours", "stripe")
    return {f: getattr(d, f) for f in fields}
