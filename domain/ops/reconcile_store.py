"""SQL for reconcile runs and their findings; every function runs in the caller's transaction.

Like a backfill run (`backfill_store`; what both share is in `paged_runs`), a run freezes
its window at start, pages with a cursor that moves in the same commit as the page's
findings, and one run is unfinished at a time (a new one supersedes it). The findings
table doubles as the run's "seen" set: a stored row no finding names was left out of
Stripe's listing (a candidate for "extra").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, func, insert, select, tuple_, update

from domain.event_log import Executor
from domain.models import ReconcileItem, ReconcileRun
from domain.ops import paged_runs as paged
from domain.ops.drift import REPORTED, Finding

RUNS = cast(Table, ReconcileRun.__table__)
ITEMS = cast(Table, ReconcileItem.__table__)
RUNNING, DONE, SUPERSEDED = paged.RUNNING, paged.DONE, paged.SUPERSEDED
# The cursor of a kind whose listing is done: its left-out stored rows are checked next.
EXTRAS = "~extras"


@dataclass(frozen=True)
class Window:
    """What a run compares: objects created in [start, end] of these kinds."""

    start: int
    end: int
    kinds: tuple[str, ...]
    repair: bool = False


def start_run(
    bind: Executor, window: Window, actor: str, via: str, audit_id: int, now: datetime
) -> int:
    """Supersede any unfinished run (one reconcile at a time) and open a new one."""
    paged.supersede_running(bind, RUNS, now)
    values = {
        "status": RUNNING,
        "started_at": now,
        "updated_at": now,
        "actor": actor[:255],
        "via": via,
        "audit_id": audit_id,
        "window_start": window.start,
        "window_end": window.end,
        "kinds": orjson.dumps(list(window.kinds)).decode(),
        "repair": window.repair,
        "kind_index": 0,
        "pages": 0,
        "seen": 0,
    }
    return int(bind.execute(insert(RUNS).values(**values).returning(RUNS.c.id)).scalar_one())


def latest_unfinished(bind: Executor) -> dict[str, Any] | None:
    """The run `--resume` continues: the newest one still running (or interrupted)."""
    return _decoded(paged.latest_running(bind, RUNS))


def get_run(bind: Executor, run_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    """One run; `lock` holds it until the transaction ends (steps commit one at a time)."""
    return _decoded(paged.run_row(bind, RUNS, run_id, lock=lock))


def advance(
    bind: Executor,
    run_id: int,
    *,
    seen: int,
    cursor: str | None,
    next_kind: bool,
    last: bool,
    now: datetime,
) -> None:
    """Move the cursor (or on to the next kind) by one step, in the step's commit."""
    c = RUNS.c
    values: dict[str, Any] = {"pages": c.pages + 1, "seen": c.seen + seen, "updated_at": now}
    if next_kind:
        values.update(kind_index=c.kind_index + 1, cursor=None)
    else:
        values["cursor"] = cursor
    if last:
        values.update(status=DONE, finished_at=now)
    bind.execute(update(RUNS).where(c.id == run_id).values(**values))


def record(bind: Executor, run_id: int, findings: Iterable[tuple[Finding, bool]]) -> None:
    """Store each (finding, repaired); a finding for an object already recorded replaces it
    (a resumed step compares its page again)."""
    rows = [
        {
            "run_id": run_id,
            "kind": f.kind,
            "object_id": f.object_id,
            "outcome": f.outcome.value,
            "fields": orjson.dumps([d.as_dict() for d in f.fields]).decode(),
            "repaired": repaired,
        }
        for f, repaired in findings
    ]
    if not rows:
        return
    keys = [(r["kind"], r["object_id"]) for r in rows]
    bind.execute(
        ITEMS.delete().where(
            ITEMS.c.run_id == run_id, tuple_(ITEMS.c.kind, ITEMS.c.object_id).in_(keys)
        )
    )
    bind.execute(insert(ITEMS), rows)


def forget(bind: Executor, run_id: int, kind: str, object_id: str) -> None:
    """Drop one finding, so the object is compared again (as a left-out row if unlisted)."""
    bind.execute(
        ITEMS.delete().where(
            ITEMS.c.run_id == run_id, ITEMS.c.kind == kind, ITEMS.c.object_id == object_id
        )
    )


def recorded_ids(bind: Executor, run_id: int, kind: str) -> set[str]:
    """The objects of this kind the run has compared already."""
    stmt = select(ITEMS.c.object_id).where(ITEMS.c.run_id == run_id, ITEMS.c.kind == kind)
    return {str(v) for v in bind.execute(stmt).scalars()}


def counts(bind: Executor, run_id: int) -> dict[str, int]:
    """Findings per outcome, and how many drifts were repaired."""
    stmt = (
        select(ITEMS.c.outcome, ITEMS.c.repaired, func.count())
        .where(ITEMS.c.run_id == run_id)
        .group_by(ITEMS.c.outcome, ITEMS.c.repaired)
    )
    totals = {"same": 0, "missing": 0, "extra": 0, "differing": 0, "failed": 0, "repaired": 0}
    for outcome, repaired, n in bind.execute(stmt):
        totals[outcome] = totals.get(outcome, 0) + n
        if repaired:
            totals["repaired"] += n
    return totals


def drifts(bind: Executor, run_id: int, limit: int) -> list[dict[str, Any]]:
    """The run's drift and failed findings (kind, object id, outcome, fields, repaired)."""
    stmt = (
        select(ITEMS.c.kind, ITEMS.c.object_id, ITEMS.c.outcome, ITEMS.c.fields, ITEMS.c.repaired)
        .where(ITEMS.c.run_id == run_id, ITEMS.c.outcome.in_(sorted(d.value for d in REPORTED)))
        .order_by(ITEMS.c.kind, ITEMS.c.object_id)
        .limit(limit)
    )
    return [{**r, "fields": orjson.loads(r["fields"])} for r in bind.execute(stmt).mappings()]


def _decoded(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {**row, "kinds": orjson.loads(row["kinds"])}
