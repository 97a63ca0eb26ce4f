"""What every paged, resumable ops run shares (backfill, reconcile): one unfinished run at a
time, found again by `--resume`, locked while a page commits.

A run's table has `id`, `status` (running | done | superseded), `finished_at` and
`updated_at`; its own store (backfill_store, reconcile_store) adds the window and cursor.
Every function runs in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, select, update

from domain.event_log import Executor

RUNNING, DONE, SUPERSEDED = "running", "done", "superseded"


def supersede_running(bind: Executor, table: Table, now: datetime) -> None:
    """End any unfinished run of this table: a new one starts (one at a time)."""
    bind.execute(
        update(table)
        .where(table.c.status == RUNNING)
        .values(status=SUPERSEDED, finished_at=now, updated_at=now)
    )


def latest_running(bind: Executor, table: Table) -> Any:
    """The run `--resume` continues: the newest one still running (or interrupted)."""
    stmt = select(table).where(table.c.status == RUNNING).order_by(table.c.id.desc())
    return bind.execute(stmt).mappings().first()


def run_row(bind: Executor, table: Table, run_id: int, *, lock: bool = False) -> Any:
    """One run; `lock` holds it until the transaction ends (pages commit one at a time)."""
    stmt = select(table).where(table.c.id == run_id)
    return bind.execute(stmt.with_for_update() if lock else stmt).mappings().first()
