"""`billing reconcile`: compare the mirror with Stripe's lists, report drift, repair it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.markup import escape

from domain.ops.reconcile import ReconcileRefused, ReconcileResult, ReconcileService
from domain.ops.reconcile_kinds import BY_NAME, DEFAULT_KINDS, parse_kinds
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


def make_reconcile(page_size: int) -> ReconcileService:
    """A reconcile service on this process's database, reading Stripe through the gateway."""
    from workers.reconcile import reconcile_service

    rt = runtime()  # refuses a missing SQLite file rather than creating one
    return reconcile_service(rt.engine, rt.settings, rt.deps, page_size=page_size)


def reconcile(
    since: Annotated[
        str | None,
        typer.Option(help="Objects created at or after: 6h, 7d or an ISO date (default 7d)."),
    ] = None,
    objects: Annotated[
        list[str] | None,
        typer.Option(
            "--objects",
            help=f"Object kinds (comma-separate): {', '.join(BY_NAME)} "
            f"(default {','.join(DEFAULT_KINDS)}).",
        ),
    ] = None,
    repair: Annotated[
        bool,
        typer.Option("--repair", help="Apply Stripe's current objects to the mirror (audited)."),
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the last unfinished reconcile.")
    ] = False,
    max_pages: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many pages (resume later).")
    ] = None,
    page_size: Annotated[int, typer.Option(min=1, max=100, help="Objects per page.")] = 100,
    yes: Annotated[bool, YES_OPTION] = False,
    reason: Annotated[str | None, REASON_OPTION] = None,
    as_json: Annotated[bool, JSON_OPTION] = False,
) -> None:
    """Report objects missing from the mirror, extra in it, or differing by field."""
    if resume and (since is not None or objects or repair):
        raise typer.BadParameter(
            "--resume continues the stored run with its own window, objects and repair",
            param_hint="--resume",
        )
    start = None if resume else since_option(since or "7d")
    try:
        kinds = parse_kinds(objects or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--objects") from None
    if repair and not (reason or "").strip():
        raise typer.BadParameter(
            "--repair changes the mirror: give --reason", param_hint="--reason"
        )
    if repair:
        confirm(f"Apply Stripe's current {', '.join(kinds)} to the mirror where they differ?", yes)
    service = make_reconcile(page_size)
    with _progress(not as_json) as tick:
        try:
            if start is not None:
                result = service.start(
                    actor(),
                    start,
                    kinds,
                    repair=repair,
                    reason=reason,
                    max_pages=max_pages,
                    progress=tick,
                )
            else:
                result = service.resume(actor(), reason=reason, max_pages=max_pages, progress=tick)
        except ReconcileRefused as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    _report(result, as_json)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[ReconcileResult], None] | None]:
    """A status line on stderr (pages, compared, drift so far); none with --json."""
    if not enabled:
        yield None
        return
    with err.status("reconcile: starting") as status:

        def tick(r: ReconcileResult) -> None:
            status.update(
                f"reconcile: {r.pages} pages, compared {r.seen}, drift {r.drift}"
                + (f", repaired {r.repaired}" if r.repair else "")
            )

        yield tick


def _fields(finding: dict[str, Any]) -> str:
    # Escaped: rich would read `[redacted]` as markup and print nothing.
    diffs = (
        f"{d['field']}: {_value(d['mirror'])} -> {_value(d['stripe'])}" for d in finding["fields"]
    )
    return escape("; ".join(diffs))


def _value(value: Any) -> str:
    if isinstance(value, list):  # child rows (subscription items): their ids and quantities
        return "[" + ", ".join(f"{r.get('id')} x{r.get('quantity')}" for r in value) + "]"
    return "-" if value is None else str(value)


def _report(result: ReconcileResult, as_json: bool) -> None:
    """The totals and the findings; exit 1 when drift is left, an object failed, or the run
    stopped on a Stripe error."""
    if as_json:
        emit_json(result.as_dict())
    else:
        rows = [
            ("run", f"#{result.run_id} ({result.status}, audit #{result.audit_id})"),
            ("objects", ", ".join(result.kinds)),
            ("compared", result.seen),
            ("missing (in Stripe, not in the mirror)", result.missing),
            ("extra (deleted in Stripe)", result.extra),
            ("differing", result.differing),
            ("failed (could not compare or repair)", result.failed),
            ("repaired", result.repaired if result.repair else "- (report only)"),
        ]
        out.print(table("reconcile", ["", "value"], rows))
        if result.findings:
            found = [
                (f["kind"], f["object_id"], f["outcome"], _fields(f) or "-", _yes(f["repaired"]))
                for f in result.findings
            ]
            columns = ["kind", "object id", "outcome", "fields (mirror -> stripe)", "repaired"]
            out.print(table("drift", columns, found))
    if result.stopped:
        err.print(
            f"[yellow]stopped ({result.stopped}{': ' + result.error if result.error else ''}); "
            "continue with: billing reconcile --resume[/yellow]"
        )
    left = result.drift > result.repaired or result.failed > 0
    if result.stopped in ("error", "conflict") or left:
        raise typer.Exit(1)


def _yes(value: bool) -> str:
    return "yes" if value else "no"
