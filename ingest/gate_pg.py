"""The credit gate on Postgres: asyncio tasks with hot connections, pipelined statements.

`POST /v1/credits/consume` is on the product's request path, so the gate runs on the event
loop itself (psycopg's async connection) rather than in threads: a consume queued while the
loop is free starts its batch at once (no thread to wake, no GIL to hand over, no
`call_soon_threadsafe` to answer), and the requests arriving while a batch is in flight form
the next batch (on another lane: see PipelinedGate). A batch is two round trips on a
connection kept open (`domain.credits.gate_sql`): lock the rows and read earlier answers;
write everything and COMMIT. Round trips, not CPU, are what a batch waits on when the
machine is busy (each one waits for the Postgres backend to be scheduled), hence pipeline
mode. An answer is given only after that COMMIT returned (synchronous_commit as the server
has it: on). If a batch fails for another reason than an outage, each consume is retried in
a transaction of its own; a dropped connection is replaced and the batch tried once more.
Behind a transaction pooler (DATABASE_POOLER=transaction) the COMMIT is sent after the
pipeline is closed, one round trip more: psycopg's pipeline exit may send a Flush after
the final Sync, and PgBouncer, which gives a server connection to whatever a client sends
and frees it only on the server's ReadyForQuery, would then keep the server for this lane
(a Flush has no answer) until its next batch, which an idle gate never sends.
The embedded SQLite default keeps the threaded gate (ingest/gate.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import psycopg
import structlog
from psycopg.types.json import set_json_loads
from sqlalchemy.engine import make_url

from domain.credits import gate_sql, ledger
from domain.types import utcnow
from ingest.errors import is_outage

log = structlog.get_logger("ingest.gate")

Consume = ledger.ConsumeRequest
_Waiting = tuple[Consume, "asyncio.Future[ledger.ConsumeOutcome]"]


def libpq_conninfo(database_url: str) -> str:
    """A SQLAlchemy URL (`postgresql+psycopg://...`) as a libpq connection URI."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PipelinedGate:
    """Applies consumes in batches of up to `max_batch` from `lanes` tasks of the loop, each
    with its own connection: a consume arriving while a batch commits starts the next batch
    on a free lane instead of waiting for that COMMIT. Each batch locks its rows in account
    order, so two lanes never deadlock; on one account they take turns on its row lock; an
    id in two lanes at once is written by one, the other retries and answers the same."""

    def __init__(
        self,
        database_url: str,
        *,
        lanes: int = 2,
        max_batch: int = 200,
        transaction_pooler: bool = False,
    ) -> None:
        self._conninfo = libpq_conninfo(database_url)
        # Behind a transaction pooler (DATABASE_POOLER) no server-side prepared statements:
        # the next batch may run on another server connection (domain.db.make_engine).
        self._prepare_threshold: int | None = None if transaction_pooler else 5
        self._commit_in_pipeline = not transaction_pooler
        self._max_batch = max_batch
        self._waiting: list[_Waiting] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._conns: list[psycopg.AsyncConnection[Any] | None] = [None] * lanes
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the gate's tasks on the running loop (the app's lifespan calls this)."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._run(lane), name=f"credit-gate-{lane}")
            for lane in range(len(self._conns))
        ]

    async def consume(self, consume: Consume) -> ledger.ConsumeOutcome:
        """The committed outcome of `consume` (or the exception that stopped it)."""
        if not self._tasks or self._closing:
            raise RuntimeError("the credit gate is not running")
        future: asyncio.Future[ledger.ConsumeOutcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((consume, future))
        self._wake.set()
        return await future

    async def aclose(self) -> None:
        """Answer what is queued, stop the tasks and close the connections."""
        self._closing = True
        self._wake.set()
        await asyncio.gather(*self._tasks)
        for conn in self._conns:
            if conn is not None:
                await conn.close()

    async def _run(self, lane: int) -> None:
        while True:
            while not self._waiting:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
            batch = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            await self._commit(lane, batch)

    async def _commit(self, lane: int, batch: list[_Waiting]) -> None:
        try:
            outcomes = await self._apply(lane, [c for c, _ in batch])
        except Exception as exc:
            if len(batch) > 1 and not is_outage(None, exc):
                log.warning("gate.batch_failed_retrying_each", count=len(batch))
                for one in batch:
                    await self._commit(lane, [one])
                return
            log.error(
                "gate.consume_failed",
                count=len(batch),
                error_type=type(exc).__name__,
                exc_info=exc,
            )
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():  # the client may have gone meanwhile
                future.set_result(outcome)

    async def _connection(self, lane: int) -> psycopg.AsyncConnection[Any]:
        conn = self._conns[lane]
        if conn is None or conn.closed:
            conn = await psycopg.AsyncConnection.connect(
                self._conninfo, connect_timeout=5, prepare_threshold=self._prepare_threshold
            )
            set_json_loads(orjson.loads, conn)
            self._conns[lane] = conn
        return conn

    async def _apply(self, lane: int, batch: list[Consume]) -> list[ledger.ConsumeOutcome]:
        """One transaction; tried once more on a dropped connection (replaced) or a race."""
        for attempt in (1, 2):
            conn = await self._connection(lane)
            try:
                return await _transaction(conn, batch, commit_in_pipeline=self._commit_in_pipeline)
            except ledger.BatchRaced:
                # An id of the batch was committed meanwhile by another transaction: once
                # more, its answer is now among the earlier ones.
                if attempt == 2:
                    raise
            except psycopg.OperationalError as exc:
                if attempt == 2 or not conn.broken:
                    raise
                log.warning("gate.reconnecting", error_type=type(exc).__name__)
                self._conns[lane] = None
        raise AssertionError("unreachable")


async def _transaction(
    conn: psycopg.AsyncConnection[Any], batch: list[Consume], *, commit_in_pipeline: bool
) -> list[ledger.ConsumeOutcome]:
    """Lock + read answers (one round trip), write + COMMIT (one); with `commit_in_pipeline`
    false, write (one) then COMMIT (one) after the pipeline (see the module's docstring)."""
    accounts = sorted({c.account_ref for c in batch})
    ids = sorted({ledger.CONSUME_PREFIX + c.consume_id for c in batch})
    try:
        async with conn.pipeline():
            locked = await conn.execute(gate_sql.LOCK, (accounts,))
            earlier = await conn.execute(gate_sql.ANSWERED, (ids,))
            rows = {
                r[0]: ledger.LockedBalance(r[1], r[2], r[3], r[4]) for r in await locked.fetchall()
            }
            answered = {r[0]: r[1] for r in await earlier.fetchall()}
            now = utcnow()
            plan = ledger.plan_batch(batch, rows, answered, now)
            if plan.entries:
                await conn.execute(gate_sql.WRITE, gate_sql.write_params(plan, now))
            if commit_in_pipeline:
                await conn.commit()  # sent behind WRITE; psycopg syncs and waits for both
        if not commit_in_pipeline:
            await conn.commit()  # nothing follows its Sync: the pooler frees the server
    except psycopg.errors.UniqueViolation:
        await conn.rollback()
        raise ledger.BatchRaced from None
    except BaseException:
        if not conn.closed and not conn.broken:
            await conn.rollback()
        raise
    return plan.outcomes
