"""The state of a transaction that applies several events at once: an explicit object.

The processor creates a `Batch` for a message of several events and hands it, inside a
`domain.mirror.unit.Unit`, to the handlers and the store functions. `store.prepare_batch`
fills it: the advisory keys the transaction already holds and the stamps of the rows the
handlers will read (kept current as the batch writes). The stamped writes and child-row
replacements wait in it for `store.flush_writes`, which sends each table's rows as one
executemany. Without a batch (one event per transaction) every store function goes
straight to the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table

from domain.mirror.ordering import Stamp, stamp_of

if TYPE_CHECKING:  # domain.credits imports the mirror: no import at run time
    from domain.credits.period_plan import PeriodDue

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Targets:
    """What a handler will lock and which stamped rows it will read, known before it runs."""

    keys: tuple[str | None, ...] = ()
    rows: tuple[tuple[Table, str | None], ...] = ()


@dataclass
class Batch:
    """Locks held, stamps known and writes deferred by one multi-event transaction."""

    held: set[str] = field(default_factory=set)
    stamps: dict[tuple[str, str], Stamp | None] = field(default_factory=dict)
    # (table, dialect, columns) -> rows for that upsert statement, in the order written.
    upserts: dict[tuple[Table, str, tuple[str, ...]], list[Row]] = field(default_factory=dict)
    # (child table, parent column) -> parent id -> its child rows. Only the last replacement
    # of a parent in a batch matters: a replacement is only made by an event newer than
    # every earlier one for that parent (its upsert moved the batch's stamp first).
    children: dict[tuple[Table, str], dict[str, list[Row]]] = field(default_factory=dict)
    # Period allowances the batch's subscription events found due, in event order; granted
    # together (domain.credits.period.grant_batch_dues) before anything else writes the
    # ledger and at the end of the batch.
    period_dues: list[PeriodDue] = field(default_factory=list)

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

    def defer_children(self, table: Table, parent: str, parent_id: str, rows: list[Row]) -> None:
        self.children.setdefault((table, parent), {})[parent_id] = rows
