"""Alembic: upgrade -> downgrade -> upgrade works, and models and migrations do not drift."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from domain.models import Base
from migrations import alembic_config
from tests.support.env import TEST_DATABASE_URL


@pytest.fixture
def scratch_postgres() -> Iterator[str]:
    """A database of its own, so the drift check sees only what migrations made."""
    url = make_url(TEST_DATABASE_URL)
    name = f"{url.database}_migrations"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def drift(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def round_trip(url: str) -> None:
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    assert tables(url) == set(Base.metadata.tables)
    command.downgrade(cfg, "base")
    assert tables(url) == set()
    command.upgrade(cfg, "head")
    assert drift(url) == []


def test_postgres_round_trip_without_drift(scratch_postgres: str) -> None:
    round_trip(scratch_postgres)


def test_sqlite_round_trip_without_drift(tmp_path: Path) -> None:
    round_trip(f"sqlite:///{tmp_path / 'billing.db'}")


def test_postgres_event_bodies_live_out_of_line(scratch_postgres: str) -> None:
    """Migration 0020: a stored body is in the TOAST relation, so a status change (queued,
    processing, processed) writes a small row version, not another copy of the body."""
    import orjson

    from domain.mirror.stripe_json import ApiShape
    from tests.mirror.lifecycle import lifecycle

    command.upgrade(alembic_config(scratch_postgres), "head")
    body = orjson.dumps(lifecycle(ApiShape.CURRENT)[1]).decode()  # subscription.created
    assert len(body) > 2500
    engine = create_engine(scratch_postgres)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO stripe_events (event_id, type, livemode, event_created, raw_body,"
                    " source, received_at, status, attempts) VALUES"
                    " ('evt_toast', 't', false, 0, :b, 'webhook', now(), 'received', 0)"
                ),
                {"b": body},
            )
            options = conn.execute(
                text("SELECT reloptions FROM pg_class WHERE relname = 'stripe_events'")
            ).scalar_one()
            toast_bytes = conn.execute(
                text(
                    "SELECT pg_relation_size(reltoastrelid) FROM pg_class"
                    " WHERE relname = 'stripe_events'"
                )
            ).scalar_one()
        assert options == ["toast_tuple_target=128"]
        # The one body went to the TOAST relation (inline, compressed to ~2 KB, it fits the
        # heap page and the TOAST relation stays empty: 0 bytes).
        assert toast_bytes > 0
        command.downgrade(alembic_config(scratch_postgres), "0019")
        with engine.connect() as conn:
            options = conn.execute(
                text("SELECT reloptions FROM pg_class WHERE relname = 'stripe_events'")
            ).scalar_one()
        assert options is None
    finally:
        engine.dispose()
