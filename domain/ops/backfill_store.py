"""SQL for backfill runs (`backfill_runs`); every function runs in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, insert, update

from domain.event_log import Executor
from domain.models import BackfillRun
from domain.ops import paged_runs as paged

RUNS = cast(Table, BackfillRun.__table__)
RUNNING, DONE, SUPERSEDED = paged.RUNNING, paged.DONE, paged.SUPERSEDED


@dataclass(frozen=True)
class Window:
    """What a run pages through: created in [start, end], optional types, undelivered only."""

    start: int
    end: int
    types: tuple[str, ...] = ()
    undelivered_only: bool = False


@dataclass(frozen=True)
class Page:
    """The counts one page adds, and where the next page starts."""

    cursor: str | None
    oldest_created: int | None
    seen: int
    new: int
    already_had: int
    last: bool


def start_run(bind: Executor, window: Window, actor: str, via: str, now: datetime) -> int:
    """Supersede any unfinished run (one backfill at a time) and open a new one."""
    paged.supersede_running(bind, RUNS, now)
    return int(
        bind.execute(
            insert(RUNS)
            .values(
                status=RUNNING,
                started_at=now,
                updated_at=now,
                actor=actor[:255],
                via=via,
                window_start=window.start,
                window_end=window.end,
                types=orjson.dumps(list(window.types)).decode(),
                undelivered_only=window.undelivered_only,
                pages=0,
                seen=0,
                new=0,
                already_had=0,
            )
            .returning(RUNS.c.id)
        ).scalar_one()
    )


def latest_unfinished(bind: Executor) -> dict[str, Any] | None:
    """The run `--resume` continues: the newest one still running (or interrupted)."""
    return _decoded(paged.latest_running(bind, RUNS))


def get_run(bind: Executor, run_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    """One run; `lock` holds it until the transaction ends (pages commit one at a time)."""
    return _decoded(paged.run_row(bind, RUNS, run_id, lock=lock))


def window_of(run: dict[str, Any]) -> Window:
    return Window(
        run["window_start"], run["window_end"], tuple(run["types"]), run["undelivered_only"]
    )


def advance(bind: Executor, run_id: int, page: Page, now: datetime) -> None:
    """Move the cursor and counters by one page (same commit as the page's events)."""
    c = RUNS.c
    values: dict[str, Any] = {
        "pages": c.pages + 1,
        "seen": c.seen + page.seen,
        "new": c.new + page.new,
        "already_had": c.already_had + page.already_had,
        "updated_at": now,
    }
    if page.cursor is not None:
        values["cursor"] = page.cursor
    if page.oldest_created is not None:
        values["oldest_created"] = page.oldest_created
    if page.last:
        values.update(status=DONE, finished_at=now)
    bind.execute(update(RUNS).where(c.id == run_id).values(**values))


def _decoded(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {**row, "types": orjson.loads(row["types"])}
