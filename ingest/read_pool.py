"""The read API's own worker threads and warm connections.

`GET /v1/accounts/{ref}` is on the product's request path. Run in Starlette's default
thread pool (40 threads) with a pinged pool checkout, each request paid a `SELECT 1` round
trip and 32 concurrent requests became 32 threads taking turns on the GIL. Here a few
threads, each keeping its connection warm (no ping: a connection the server dropped is
replaced and the read tried once more, as the ingest writer and the credit gate do), in
autocommit mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from domain.db import make_engine

T = TypeVar("T")
log = structlog.get_logger("ingest.reads")


class ReadPool:
    """`threads` threads reading through `engine` (one connection each)."""

    def __init__(self, engine: Engine, threads: int, *, owns_engine: bool) -> None:
        self.engine = engine
        self._owns_engine = owns_engine
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="read")

    @classmethod
    def open(
        cls,
        database_url: str,
        shared: Engine,
        *,
        threads: int = 4,
        transaction_pooler: bool = False,
    ) -> ReadPool:
        """Postgres: an engine of its own without the ping; SQLite: the app's engine."""
        if shared.dialect.name == "sqlite":
            return cls(shared, threads, owns_engine=False)
        engine = make_engine(
            database_url,
            pool_size=threads,
            pre_ping=False,
            transaction_pooler=transaction_pooler,
        )
        # Autocommit: no BEGIN and no ROLLBACK round trip around each read. The same
        # answers: under READ COMMITTED each statement takes its own snapshot either way.
        readonly = engine.execution_options(isolation_level="AUTOCOMMIT")
        return cls(readonly, threads, owns_engine=True)

    async def run(self, work: Callable[[Session], T]) -> T:
        """`work(session)` in a read thread; tried once more on a dropped connection."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._run, work)

    def _run(self, work: Callable[[Session], T]) -> T:
        for attempt in (1, 2):
            try:
                with Session(self.engine) as session:
                    return work(session)
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
                log.warning("reads.reconnecting", error_type=type(exc.orig).__name__)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        if self._owns_engine:
            self.engine.dispose()
