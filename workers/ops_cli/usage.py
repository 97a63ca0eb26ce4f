"""`billing usage report|dead|replay|reconcile`: usage reporting to Stripe's meters."""

from __future__ import annotations

from typing import Annotated

import typer

from domain.ops.usage_replay import UsageReplayService
from domain.types import utcnow
from domain.usage.rejected import RejectedFilter, list_rejected
from workers.ops_cli.render import (
    DRY_RUN_OPTION,
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


ReasonContainsOpt = Annotated[
    str | None, typer.Option("--reason-contains", help="Only those whose reason contains this.")
]
AccountOpt = Annotated[str | None, typer.Option("--account", help="Only this account_ref.")]


@app.command()
def dead(
    meter: MeterOpt = None,
    account: AccountOpt = None,
    reason_contains: ReasonContainsOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows.")] = 100,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Usage records Stripe refused for good (or that can never be sent), with why."""

    flt = RejectedFilter(account, meter, reason_contains)
    with runtime().sessions() as session:
        rows = list_rejected(session, flt, limit=limit)
    if as_json:
        emit_json([r.as_dict() for r in rows])
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


@app.command()
def replay(
    record_ids: Annotated[
        list[str] | None, typer.Argument(help="Record ids (default: all, or the filter's).")
    ] = None,
    meter: MeterOpt = None,
    account: AccountOpt = None,
    reason_contains: ReasonContainsOpt = None,
    dry_run: Annotated[bool, DRY_RUN_OPTION] = False,
    reason: Annotated[str | None, REASON_OPTION] = None,
    yes: Annotated[bool, YES_OPTION] = False,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Put rejected usage records back to pending (audited); the next pass sends them again."""
    flt = RejectedFilter(account, meter, reason_contains)
    if record_ids and not flt.is_empty:
        raise typer.BadParameter("give record ids or a filter, not both")
    service = UsageReplayService(runtime().engine)
    everything = not record_ids and flt.is_empty
    if not record_ids and not dry_run:
        preview = service.replay(actor(), flt=flt, everything=everything, dry_run=True)
        if not preview.count:
            out.print("nothing matches: no usage record replayed")
            return
        what = ", ".join(f"{m}: {n}" for m, n in preview.by_meter.items()) or "none"
        confirm(f"replay {preview.count} rejected usage record(s) ({what})?", yes)
    result = service.replay(
        actor(),
        record_ids=record_ids or (),
        flt=flt,
        everything=everything,
        reason=reason,
        dry_run=dry_run,
    )
    if as_json:
        emit_json(result.as_dict())
    else:
        verb = "would replay" if dry_run else "replayed"
        out.print(f"[bold]{verb} {result.count}[/bold] usage records (pending again)")
        for rid, why in result.skipped.items():
            err.print(f"skipped {rid}: {why}")
    if record_ids and not result.count:
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
