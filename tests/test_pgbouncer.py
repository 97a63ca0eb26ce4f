"""DATABASE_POOLER=transaction against a real PgBouncer in transaction mode.

The PgBouncer here has ONE server connection (default_pool_size=1): every client's
transactions run on it in turn, so whatever server state one of them leaves behind (a
prepared statement, a session SET, a session advisory lock) is seen by the next. Without
the setting it breaks (shown first); with it, the worker's batch path and the migrations
leave the server connection as they found it. The source audit at the end keeps the code
free of session-scoped SQL, so new code cannot quietly depend on a session.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from domain.db import make_engine
from domain.settings import load_settings
from tests.support.env import TEST_DATABASE_URL
from tests.support.pgbouncer import PgBouncer, pgbouncer_binary
from tests.test_batch_apply import REGISTRY
from tests.test_processing import store
from workers.processor import process_events
from workers.runtime import build_runtime

ROOT = Path(__file__).resolve().parents[1]
REPEAT = "SELECT CAST(:n AS integer) + 1"


@pytest.fixture(scope="module")
def one_server(pg_engine: Engine) -> Iterator[PgBouncer]:
    """(The tests without this fixture, the source audit among them, run without pgbouncer.)"""
    if pgbouncer_binary() is None:
        pytest.skip("pgbouncer not installed (apt-get install pgbouncer)")
    bouncer = PgBouncer(pool_size=1)
    bouncer.start()
    yield bouncer
    bouncer.destroy()


@pytest.fixture
def url(one_server: PgBouncer, db: Engine) -> str:
    return one_server.url(TEST_DATABASE_URL)


def interleave(engine: Engine, rounds: int = 8) -> None:
    """Two pooled connections run the same statement in turn, one transaction each time
    (psycopg prepares a statement on its 5th execution on a connection)."""
    first, second = engine.connect(), engine.connect()
    try:
        for n in range(rounds):
            for conn in (first, second):
                assert conn.execute(text(REPEAT), {"n": n}).scalar_one() == n + 1
                conn.commit()
    finally:
        first.invalidate()
        second.invalidate()
        engine.dispose()


def test_without_the_setting_prepared_statements_collide(url: str) -> None:
    """The failure the setting prevents: both clients prepare `_pg3_0` on one server
    connection (or run a statement prepared on another one)."""
    with pytest.raises(ProgrammingError, match=r'prepared statement "_pg3_\d+"'):
        interleave(make_engine(url, pool_size=2))


def test_without_the_setting_async_commit_cannot_even_connect(url: str) -> None:
    """The workers' asynchronous commit as a startup option: PgBouncer refuses it."""
    engine = make_engine(url, synchronous_commit=False)
    try:
        with (
            pytest.raises(OperationalError, match="unsupported startup parameter: options"),
            engine.connect() as conn,
        ):
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def test_with_the_setting_the_same_statements_run(url: str) -> None:
    settings = load_settings(database_url=url, database_pooler="transaction")
    assert settings.behind_transaction_pooler
    interleave(make_engine(url, pool_size=2, transaction_pooler=True))


def test_async_commit_stays_inside_the_workers_transactions(url: str) -> None:
    worker = make_engine(url, synchronous_commit=False, transaction_pooler=True)
    web = make_engine(url, transaction_pooler=True)
    try:
        with worker.begin() as conn:
            worker_pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
        with web.begin() as conn:
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == worker_pid
            assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
    finally:
        worker.dispose()
        web.dispose()


def session_state(url: str) -> dict[str, object]:
    """What the (only) server connection carries between transactions."""
    engine = make_engine(url, pool_size=1, transaction_pooler=True)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM pg_prepared_statements) AS prepared,"
                    " (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                    "   AND pid = pg_backend_pid()) AS advisory_locks,"
                    " (SELECT count(*) FROM pg_cursors) AS cursors,"
                    " (SELECT count(*) FROM pg_listening_channels()) AS listening,"
                    " pg_my_temp_schema() <> 0 AS temp_schema,"
                    " current_setting('synchronous_commit') AS synchronous_commit,"
                    " current_setting('lock_timeout') AS lock_timeout,"
                    " current_setting('statement_timeout') AS statement_timeout"
                )
            ).one()
            return dict(row._mapping)
    finally:
        engine.dispose()


CLEAN = {
    "prepared": 0,
    "advisory_locks": 0,
    "cursors": 0,
    "listening": 0,
    "temp_schema": False,
    "synchronous_commit": "on",
    "lock_timeout": "0",
    "statement_timeout": "0",
}


def test_the_worker_batch_path_leaves_no_session_state(url: str, db: Engine) -> None:
    """The real processor (claims, advisory locks of the mirror, fenced finish), with the
    worker's asynchronous commit, many times over the one server connection."""
    runtime = build_runtime(load_settings(database_url=url, database_pooler="transaction"))
    try:
        assert not runtime.settings.worker_synchronous_commit
        for round_ in range(4):
            ids = [store(runtime, "test.locking", customer=f"cus_{n % 3}") for n in range(6)]
            assert process_events(runtime, ids, REGISTRY).processed == ids, round_
    finally:
        runtime.engine.dispose()
    assert session_state(url) == CLEAN


def test_the_credit_gate_behind_the_pooler_leaves_no_session_state(url: str, db: Engine) -> None:
    """The web app's pipelined gate (raw psycopg connections, two lanes) over the one
    server connection: every consume answered exactly, no prepared statement left
    (without the setting two are: the check fails)."""
    import asyncio

    from ingest.gate_pg import Consume, PipelinedGate
    from tests.credits.support import grant

    runtime = build_runtime(load_settings(database_url=url, database_pooler="transaction"))
    try:
        with runtime.sessions.begin() as session:
            grant(session, "org_pooled", 40, "manual:1")

        async def consume_all() -> list[bool]:
            gate = PipelinedGate(url, max_batch=5, transaction_pooler=True)
            gate.start()
            try:
                # One at a time (batches of one: the same statements again and again, which
                # psycopg would prepare), then all at once (both lanes).
                outcomes = [
                    await gate.consume(Consume(f"s{n}", "org_pooled", 1, None)) for n in range(10)
                ]
                outcomes += await asyncio.gather(
                    *(gate.consume(Consume(f"c{n}", "org_pooled", 1, None)) for n in range(50))
                )
            finally:
                await gate.aclose()
            return [o.allowed for o in outcomes]

        assert sorted(asyncio.run(consume_all())) == [False] * 20 + [True] * 40
    finally:
        runtime.engine.dispose()
    assert session_state(url) == CLEAN


def test_an_idle_gate_lane_does_not_hold_the_pooled_server(url: str, db: Engine) -> None:
    """After a batch the gate's lane sits idle on its connection; the one server connection
    must be free for the next client at once. (psycopg's pipeline exit sends a Flush after
    the final Sync: behind PgBouncer that message claims a server connection and, with
    nothing to answer, keeps it until the lane's next batch, which an idle gate never sends:
    every other client of the pool waited forever.)"""
    import asyncio

    import psycopg

    from ingest.gate_pg import Consume, PipelinedGate, libpq_conninfo
    from tests.credits.support import grant

    runtime = build_runtime(load_settings(database_url=url, database_pooler="transaction"))
    try:
        with runtime.sessions.begin() as session:
            grant(session, "org_idle_lane", 5, "manual:1")
    finally:
        runtime.engine.dispose()

    async def another_client_after_each_consume() -> list[int]:
        gate = PipelinedGate(url, lanes=1, transaction_pooler=True)
        gate.start()
        answers = []
        try:
            for n in range(6):  # allowed (a write) five times, then denied (no write)
                await gate.consume(Consume(f"idle{n}", "org_idle_lane", 1, None))
                other = await psycopg.AsyncConnection.connect(
                    libpq_conninfo(url), prepare_threshold=None, autocommit=True
                )
                try:
                    cursor = await asyncio.wait_for(other.execute("SELECT 1"), 5)
                    answers.append((await cursor.fetchone() or (0,))[0])
                finally:
                    await other.close()
        finally:
            await gate.aclose()
        return answers

    assert asyncio.run(another_client_after_each_consume()) == [1] * 6


def test_the_account_reader_behind_the_pooler_leaves_no_session_state(url: str, db: Engine) -> None:
    """The read API's one-statement account reader (raw async psycopg connections): without
    the setting PgBouncer refuses its startup option; with it the same statement runs again
    and again over the one server connection and leaves nothing behind."""
    import asyncio

    import psycopg

    from ingest.read_account import PgAccountReader
    from ingest.read_api import PLAN

    async def read(reader: PgAccountReader, times: int) -> list[int]:
        try:
            return [len((await reader.fetch("org_nobody"))["account"]) for _ in range(times)]
        finally:
            await reader.aclose()

    with pytest.raises(psycopg.OperationalError, match="options"):
        asyncio.run(read(PgAccountReader(url, PLAN.statements, connections=1), 1))
    pooled = PgAccountReader(url, PLAN.statements, connections=2, transaction_pooler=True)
    assert asyncio.run(read(pooled, 12)) == [0] * 12
    assert session_state(url) == CLEAN


def test_migrations_leave_no_session_state(
    url: str, db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Down one revision and up again through the pooler: the timeouts are LOCAL."""
    from alembic import command

    from migrations import alembic_config

    monkeypatch.setenv("DATABASE_POOLER", "transaction")
    command.downgrade(alembic_config(url), "-1")
    command.upgrade(alembic_config(url), "head")
    assert session_state(url) == CLEAN


# Session-scoped SQL: each would outlive its transaction on a pooled server connection.
SESSION_SCOPED = {
    "session advisory lock": re.compile(r"pg_(try_)?advisory_(un)?lock(_shared)?\s*\(", re.I),
    "SET without LOCAL": re.compile(
        r"""["'(]\s*SET\s+(?!LOCAL\b|CONSTRAINTS\b|TRANSACTION\b)(SESSION\s+)?\w+\s*(=|TO\b)""",
        re.I,
    ),
    "set_config for the session": re.compile(r"set_config\s*\([^)]*,\s*false\s*\)", re.I),
    "LISTEN/NOTIFY": re.compile(r"""["']\s*(UN)?LISTEN\s|["']\s*NOTIFY\s|pg_notify\s*\(""", re.I),
    "temporary table": re.compile(r"CREATE\s+(GLOBAL\s+|LOCAL\s+)?TEMP(ORARY)?\s+TABLE", re.I),
    "cursor WITH HOLD": re.compile(r"WITH\s+HOLD", re.I),
    "PREPARE statement": re.compile(r"""["']\s*PREPARE\s+\w+""", re.I),
    "startup option": re.compile(r"""["']-c\s+\w+\s*=""", re.I),
}
AUDITED = ("domain", "ingest", "workers", "migrations")


def session_scoped_uses(source: str) -> list[str]:
    return [name for name, pattern in SESSION_SCOPED.items() if pattern.search(source)]


@pytest.mark.parametrize(
    "source",
    [
        'text("SELECT pg_advisory_lock(hashtext(:k))")',
        'text("SELECT pg_try_advisory_lock(1)")',
        "conn.execute(text(\"SET lock_timeout = '5s'\"))",
        'exec_driver_sql("SET SESSION statement_timeout TO 0")',
        "text(\"SELECT set_config('lock_timeout', '1s', false)\")",
        'text("LISTEN billing")',
        'text("CREATE TEMP TABLE t (x int)")',
        'text("DECLARE c CURSOR WITH HOLD FOR SELECT 1")',
        '{"options": "-c synchronous_commit=off"}',
    ],
)
def test_the_audit_catches_session_scoped_sql(source: str) -> None:
    assert session_scoped_uses(source)


@pytest.mark.parametrize(
    "source",
    [
        'text("SELECT pg_advisory_xact_lock(hashtext(:k))")',
        'text("SELECT pg_try_advisory_xact_lock(1)")',
        "text(\"SET LOCAL lock_timeout = '5s'\")",
        '"UPDATE usage_records SET report_id = v.report_id"',
        "text(\"SELECT set_config('lock_timeout', '1s', true)\")",
    ],
)
def test_the_audit_lets_transaction_scoped_sql_through(source: str) -> None:
    assert session_scoped_uses(source) == []


def test_the_code_uses_no_session_scoped_sql() -> None:
    """Except the two documented places: the startup options of domain/db.py (async commit)
    and ingest/read_account.py (generic plans), used only when no transaction pooler is in
    between (the tests above show neither is used behind one)."""
    found = {
        f"{path.relative_to(ROOT)}: {use}"
        for top in AUDITED
        for path in sorted((ROOT / top).rglob("*.py"))
        for use in session_scoped_uses(path.read_text())
    }
    assert found == {"domain/db.py: startup option", "ingest/read_account.py: startup option"}


def test_an_unknown_pooler_mode_is_refused_with_the_variable_named() -> None:
    from domain.settings import SettingsError

    with pytest.raises(SettingsError, match="DATABASE_POOLER") as raised:
        load_settings(database_pooler="session")
    assert "postgresql" not in str(raised.value)


def test_the_setting_means_nothing_on_sqlite(tmp_path: Path) -> None:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'billing.db'}", database_pooler="transaction"
    )
    assert not settings.behind_transaction_pooler
