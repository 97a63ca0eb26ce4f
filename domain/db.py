"""Engine and session factory; SQLite gets WAL, a busy timeout and immediate write locks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    synchronous_commit: bool = True,
    pre_ping: bool = True,
    transaction_pooler: bool = False,
) -> Engine:
    """Create an engine for `url`, preparing SQLite files and pragmas when needed.

    `synchronous_commit=False` lets COMMIT return before the WAL is flushed (Postgres:
    `synchronous_commit=off`; SQLite: `synchronous=NORMAL` in WAL mode, where the WAL is
    synced at checkpoints). Only for work that can be redone from durable state: a crash of
    the machine then loses a short suffix of transactions, in order, never a partial one. A
    process crash loses nothing on either. On SQLite the other connections' FULL commits stay
    durable: each syncs the whole WAL, earlier NORMAL commits included.

    `transaction_pooler=True` (DATABASE_POOLER=transaction: PgBouncer in transaction mode)
    keeps every piece of server state inside one transaction, since the next transaction of
    the same connection may run on another server connection: no automatic prepared
    statements (psycopg's `prepare_threshold`) and no session settings, so asynchronous
    commit becomes a `SET LOCAL` at the start of each transaction instead of a startup option.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **_JSON, **_PRIVATE)
        _sqlite_pragmas(engine, "FULL" if synchronous_commit else "NORMAL")
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if transaction_pooler:
        connect_args["prepare_threshold"] = None
    elif not synchronous_commit:
        connect_args["options"] = "-c synchronous_commit=off"
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        connect_args=connect_args,
        **_JSON,
        **_PRIVATE,
    )
    if transaction_pooler and not synchronous_commit:
        _async_commit_per_transaction(engine)
    return engine


def _async_commit_per_transaction(engine: Engine) -> None:
    # Behind a transaction pooler a session SET would stay on the server connection and
    # reach other clients (the web app's synchronous ingest commits among them): LOCAL ends
    # with the transaction. It costs one more statement (a round trip) per transaction.
    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(_SET_LOCAL_ASYNC_COMMIT)


_SET_LOCAL_ASYNC_COMMIT = "SET LOCAL synchronous_commit = off"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


# JSON columns (outbox payloads, attempt history) through orjson: the standard library's
# encoder was ~7 % of a worker's CPU per mirror event in the profile.
_JSON: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


# Bound parameters are customers' data (e-mails, addresses): never in exception texts, which
# end up in logs and in stored errors (see domain.redact for what Postgres itself quotes).
_PRIVATE: dict[str, Any] = {"hide_parameters": True}


def _sqlite_pragmas(engine: Engine, synchronous: str) -> None:
    # pysqlite's own transaction handling defers BEGIN; take it over so every
    # transaction begins IMMEDIATE, which serialises writers the way row locks do.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def database_location(url: str) -> str:
    """Where a database URL points, safe to print: host:port/name or the SQLite path, no user
    or password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.host or 'localhost'}{port}/{parsed.database or ''}"


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


# Phrases of driver errors (psycopg, sqlite3) and what they mean, first match wins; only
# the phrase is kept, never the message (it may quote the host's users or parameters).
_REASONS = (
    ("connection refused", "connection refused"),
    ("timeout expired", "timeout"),
    ("timed out", "timeout"),
    ("password authentication failed", "authentication failed"),
    ("no password supplied", "authentication failed"),
    ("could not translate host name", "unknown host"),
    ("name or service not known", "unknown host"),
    ("no such table", "not migrated (no tables)"),
    ('relation "', "not migrated (no tables)"),
    ("does not exist", "database does not exist"),
    ("unable to open database file", "cannot open the file"),
)


def database_error_reason(exc: BaseException) -> str:
    """A short, data-free reason for a database failure: `connection refused`, `timeout`..."""
    text = str(exc).lower()
    for phrase, reason in _REASONS:
        if phrase in text:
            return reason
    return type(exc).__name__
