"""State of a transaction that applies several events at once (kept in `session.info`).

`store.prepare_batch` creates it: the advisory keys the transaction already holds, the stamps
of the rows the handlers will read (kept current as the batch writes), and the stamped writes
waiting for `store.flush_writes`, which sends each table's rows as one executemany. Without
it (one event per transaction) every store function goes straight to the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from domain.mirror.ordering import Stamp, stamp_of

Row = dict[str, Any]
_KEY = "mirror.batch"


@dataclass(frozen=True, slots=True)
class Targets:
    """What a handler will lock and which stamped rows it will read, known before it runs."""

    keys: tuple[str | None, ...] = ()
    rows: tuple[tuple[Table, str | None], ...] = ()


@dataclass
class BatchState:
    held: set[str] = field(default_factory=set)
    stamps: dict[tuple[str, str], Stamp | None] = field(default_factory=dict)
    # (table, dialect, columns) -> rows for that upsert statement, in the order written.
    upserts: dict[tuple[Table, str, tuple[str, ...]], list[Row]] = field(default_factory=dict)
    # subscription id -> its item rows: only the last replacement of a batch matters, since
    # a replacement is only made by an event newer than every earlier one for that object.
    items: dict[str, list[Row]] = field(default_factory=dict)

    def defer_upsert(self, table: Table, dialect: str, values: Row) -> None:
        self.upserts.setdefault((table, dialect, tuple(sorted(values))), []).append(values)
        key = (table.name, values["id"])
        if key in self.stamps:
            # What the guarded upsert will leave stored: the newer of the two stamps.
            stored = self.stamps[key]
            written = stamp_of(
                values["last_event_created"], values["last_event_rank"], values["last_event_id"]
            )
            if stored is None or (written is not None and written > stored):
                self.stamps[key] = written


def start_batch(session: Session) -> BatchState:
    state = BatchState()
    session.info[_KEY] = state
    return state


def batch_of(session: Session) -> BatchState | None:
    """The batch state of this transaction, if it applies several events."""
    state: BatchState | None = session.info.get(_KEY)
    return state
