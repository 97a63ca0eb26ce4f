"""The account answer's selects as one statement (Postgres) or one after another (SQLite).

On Postgres the answer is read on the event loop itself, as the credit gate is
(ingest/gate_pg.py): a few psycopg async connections kept open in autocommit mode, and all
the answer's selects (domain/mirror/account_read.py) folded into one statement, the
account_ref its only parameter, compiled once by SQLAlchemy at start: each select's rows
come back as one JSON column (`one_statement`) and are decoded into what SQLAlchemy would
have read (datetimes parsed then made UTC, enums, numerics), so the facts built from them
are those of the generic path. One statement, not eight pipelined: each statement costs
the server a parse, a plan and an executor start, and the client a result to read. A
connection the server dropped is replaced and the read tried once more. SQLite (the
embedded default) runs the same selects one after another in a read thread (`run_plan`).
"""

from __future__ import annotations

import asyncio
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
import psycopg
import structlog
from psycopg.types.json import set_json_loads
from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Integer,
    Numeric,
    Select,
    TypeDecorator,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.types import TypeEngine

from domain.mirror.account_read import REF
from ingest.gate_pg import libpq_conninfo

log = structlog.get_logger("ingest.reads")
Found = dict[str, list[Any]]
# The statement is prepared (psycopg does so on its 5th run); its plan, index lookups by the
# one parameter, does not depend on the account_ref: plan it once per connection, not per
# request (planning it costs about twice its execution).
GENERIC_PLAN = "-c plan_cache_mode=force_generic_plan"


def run_plan(connection: Connection, statements: Mapping[str, Select[Any]], ref: str) -> Found:
    """Every select's rows, one after another on `connection` (the generic path)."""
    return {name: list(connection.execute(stmt, {REF: ref})) for name, stmt in statements.items()}


def one_statement(statements: Mapping[str, Select[Any]]) -> Select[Any]:
    """All the selects as one: per select a column holding its rows as a JSON array of
    arrays (`json_agg(json_build_array(...))`), so one statement is parsed, planned and
    answered instead of one per select, on both sides of the connection."""
    columns = []
    for name, stmt in statements.items():
        sub = stmt.subquery()
        rows = func.json_agg(func.json_build_array(*sub.c))
        empty: Any = literal_column("'[]'::json")
        found = select(func.coalesce(rows, empty)).select_from(sub).scalar_subquery()
        columns.append(found.label(name))
    return select(*columns)


def _decoder(column_type: TypeEngine[Any], dialect: PGDialect_psycopg) -> Callable[[Any], Any]:
    """A JSON value of this column as SQLAlchemy would give the column's own value."""
    if isinstance(column_type, JSON):
        return lambda v: v
    if isinstance(column_type, Numeric) and not isinstance(column_type, Integer):
        as_decimal = column_type.asdecimal
        return lambda v: v if v is None else Decimal(str(v)) if as_decimal else float(v)
    after = column_type._cached_result_processor(dialect, None)
    impl = column_type.impl_instance if isinstance(column_type, TypeDecorator) else column_type
    if isinstance(impl, DateTime):
        parse = datetime.fromisoformat

        def moment(v: Any) -> Any:
            value = None if v is None else parse(v)
            return after(value) if after else value

        return moment
    return after if after else lambda v: v


class _Decoded:
    """One select's rows out of their JSON column, as SQLAlchemy rows would read."""

    def __init__(self, name: str, stmt: Select[Any], dialect: PGDialect_psycopg) -> None:
        self.name = name
        self._decoders = [_decoder(c.type, dialect) for c in stmt.selected_columns]
        self._row = namedtuple("Row", [c.key for c in stmt.selected_columns])  # type: ignore[misc]

    def rows(self, raw: Sequence[Sequence[Any]]) -> list[Any]:
        decoders, row = self._decoders, self._row
        return [row(*(d(v) for d, v in zip(decoders, r, strict=True))) for r in raw]


class PgAccountReader:
    """The account answer's selects as one statement on `connections` warm connections."""

    def __init__(
        self,
        database_url: str,
        statements: Mapping[str, Select[Any]],
        *,
        connections: int = 4,
        transaction_pooler: bool = False,
    ) -> None:
        # Native `$n` placeholders, sent as they are (psycopg's raw cursor): psycopg parses a
        # `%s` query of this length again on every run (it caches only short ones).
        dialect = PGDialect_psycopg(paramstyle="numeric_dollar")
        compiled = one_statement(statements).compile(dialect=dialect)
        binds: Mapping[str, Any] = compiled._bind_processors  # type: ignore[assignment]
        values = compiled.construct_params({REF: ""})
        constants = {k: binds[k](v) if k in binds else v for k, v in values.items()}
        self._sql = str(compiled)
        # The parameters in their `$n` order: the account_ref's slot, then the constants.
        self._order = list(compiled.positiontup or ())
        self._ref_at = self._order.index(REF)
        self._params = [constants[k] for k in self._order]
        self._selects = [_Decoded(n, s, dialect) for n, s in statements.items()]
        self._conninfo = libpq_conninfo(database_url)
        self._size = connections
        # Behind a transaction pooler (DATABASE_POOLER) nothing may outlive a transaction on
        # the server: no prepared statement and no startup option (PgBouncer refuses those),
        # so the statement is planned on each run.
        self._connect: dict[str, Any] = (
            {"prepare_threshold": None} if transaction_pooler else {"options": GENERIC_PLAN}
        )
        self._idle: asyncio.Queue[psycopg.AsyncConnection[Any] | None] | None = None

    def _queue(self) -> asyncio.Queue[psycopg.AsyncConnection[Any] | None]:
        if self._idle is None:  # None: a slot whose connection is opened at first use
            self._idle = asyncio.Queue()
            for _ in range(self._size):
                self._idle.put_nowait(None)
        return self._idle

    async def fetch(self, ref: str) -> Found:
        """Every select's rows for the account `ref`, in one round trip."""
        idle = self._queue()
        conn = await idle.get()
        try:
            for attempt in (1, 2):
                if conn is None or conn.closed:
                    conn = await psycopg.AsyncConnection.connect(
                        self._conninfo, autocommit=True, **self._connect
                    )
                    set_json_loads(orjson.loads, conn)
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
        params = list(self._params)
        params[self._ref_at] = ref
        cursor = await psycopg.AsyncRawCursor(conn).execute(self._sql, params)
        row = await cursor.fetchone()
        assert row is not None  # a select without FROM: always one row
        return {d.name: d.rows(raw) for d, raw in zip(self._selects, row, strict=True)}

    async def aclose(self) -> None:
        if self._idle is None:
            return
        while not self._idle.empty():
            conn = self._idle.get_nowait()
            if conn is not None:
                await conn.close()
