"""The account answer's selects run in one round trip (Postgres) or on one connection.

On Postgres the answer is read on the event loop itself, as the credit gate is
(ingest/gate_pg.py): a few psycopg async connections kept open in autocommit mode, and all
the answer's selects (domain/mirror/account_read.py) sent in one pipeline with the
account_ref as their only parameter. They are compiled once, by SQLAlchemy, at start; their
rows go through the same result processors SQLAlchemy applies (UTC datetimes, enums), so
the facts built from them are those the ORM path would build. A connection the server
dropped is replaced and the read tried once more. SQLite (the embedded default) runs the
same selects one after another in a read thread (`run_plan`).
"""

from __future__ import annotations

import asyncio
from collections import namedtuple
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
import structlog
from sqlalchemy import Connection, Select
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

from domain.mirror.account_read import REF
from ingest.gate_pg import libpq_conninfo

log = structlog.get_logger("ingest.reads")
Found = dict[str, list[Any]]


def run_plan(connection: Connection, statements: Mapping[str, Select[Any]], ref: str) -> Found:
    """Every select's rows, one after another on `connection` (the generic path)."""
    return {name: list(connection.execute(stmt, {REF: ref})) for name, stmt in statements.items()}


class _Compiled:
    """One select as SQL text, its constant parameters and its rows' decoding."""

    def __init__(self, name: str, stmt: Select[Any], dialect: PGDialect_psycopg) -> None:
        compiled = stmt.compile(dialect=dialect)
        binds: Mapping[str, Any] = compiled._bind_processors  # type: ignore[assignment]
        self.name = name
        self.sql = str(compiled)
        self.params = {  # the constants, already through their bind processors
            k: binds[k](v) if k in binds else v
            for k, v in compiled.construct_params({REF: ""}).items()
            if k != REF
        }
        self._dialect = dialect
        self._types = [c.type for c in stmt.selected_columns]
        self._row = namedtuple("Row", [c.key for c in stmt.selected_columns])  # type: ignore[misc]
        self._processors: list[Any] | None = None

    def rows(self, cursor: psycopg.AsyncCursor[Any], raw: Sequence[Sequence[Any]]) -> list[Any]:
        """Rows as SQLAlchemy would give them (its result processors, chosen once per
        statement from the driver's type codes, as SQLAlchemy chooses them)."""
        if self._processors is None:
            codes = [d.type_code for d in cursor.description or ()]
            self._processors = [
                t._cached_result_processor(self._dialect, code)
                for t, code in zip(self._types, codes, strict=True)
            ]
        processors, row = self._processors, self._row
        return [row(*(p(v) if p else v for p, v in zip(processors, r, strict=True))) for r in raw]


class PgAccountReader:
    """The account answer's selects in one pipeline on `connections` warm connections."""

    def __init__(
        self, database_url: str, statements: Mapping[str, Select[Any]], *, connections: int = 4
    ) -> None:
        dialect = PGDialect_psycopg()
        self._statements = [_Compiled(n, s, dialect) for n, s in statements.items()]
        self._conninfo = libpq_conninfo(database_url)
        self._size = connections
        self._idle: asyncio.Queue[psycopg.AsyncConnection[Any] | None] | None = None

    def _queue(self) -> asyncio.Queue[psycopg.AsyncConnection[Any] | None]:
        if self._idle is None:  # None: a slot whose connection is opened at first use
            self._idle = asyncio.Queue()
            for _ in range(self._size):
                self._idle.put_nowait(None)
        return self._idle

    @property
    def statement_count(self) -> int:
        return len(self._statements)

    async def fetch(self, ref: str) -> Found:
        """Every select's rows for the account `ref`, in one round trip."""
        idle = self._queue()
        conn = await idle.get()
        try:
            for attempt in (1, 2):
                if conn is None or conn.closed:
                    conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
                try:
                    return await self._fetch(conn, ref)
                except psycopg.OperationalError as exc:
                    await conn.close()
                    conn = None
                    if attempt == 2:
                        raise
                    log.warning("reads.reconnecting", error_type=type(exc).__name__)
            raise AssertionError("unreachable")
        finally:
            idle.put_nowait(conn)

    async def _fetch(self, conn: psycopg.AsyncConnection[Any], ref: str) -> Found:
        cursors = []
        async with conn.pipeline():
            for st in self._statements:
                cursors.append(await conn.execute(st.sql, {**st.params, REF: ref}))
        return {
            st.name: st.rows(cur, await cur.fetchall())
            for st, cur in zip(self._statements, cursors, strict=True)
        }

    async def aclose(self) -> None:
        if self._idle is None:
            return
        while not self._idle.empty():
            conn = self._idle.get_nowait()
            if conn is not None:
                await conn.close()
