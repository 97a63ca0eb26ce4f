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
