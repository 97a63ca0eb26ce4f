"""Alembic environment: the models' metadata, lock timeouts on Postgres, batch mode on SQLite."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine, event

import domain.commands  # (registers the commands table on Base.metadata)
import domain.credits  # (registers the credit ledger tables)
import domain.mirror  # (registers the mirror tables on Base.metadata)
import domain.usage.records
import domain.usage.report_store  # noqa: F401  (its index on usage_records)
from domain.db import make_engine
from domain.models import Base
from domain.settings import load_settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return url or load_settings().effective_database_url


def _behind_transaction_pooler() -> bool:
    return load_settings().behind_transaction_pooler


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = make_engine(_url(), pool_size=1, transaction_pooler=_behind_transaction_pooler())
    if engine.dialect.name != "sqlite":
        _timeouts_per_transaction(engine)
    with engine.connect() as connection:
        is_sqlite = connection.dialect.name == "sqlite"
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=is_sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def _timeouts_per_transaction(engine: Engine) -> None:
    # A migration waiting on a busy table must fail fast, not queue every query behind it.
    # LOCAL, at the start of every transaction of the upgrade (an autocommit_block, for a
    # CONCURRENTLY index, ends one and begins the next): a session SET would outlive the
    # upgrade on a pooled server connection (PgBouncer in transaction mode) and reach the
    # service's own transactions. The concurrent builds run without these timeouts.
    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
        conn.exec_driver_sql("SET LOCAL statement_timeout = '300s'")


if context.is_offline_mode():
    run_offline()
else:
    run_online()
