"""Shared fixtures: a migrated Postgres test database, a clean Redis, settings, processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, create_engine, text

from tests.support.env import TEST_BROKER_URL, TEST_DATABASE_URL, service_env

# In-process code (the Celery app module, runtimes) reads the same environment as children.
os.environ.update(service_env())

from domain.settings import Settings, load_settings
from tests.support.handlers import EFFECTS_DDL
from workers.runtime import Runtime, build_runtime

TABLES_TO_KEEP = {"alembic_version"}


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    """The test database, reset and migrated to head once per test session."""
    from alembic import command

    from migrations import alembic_config

    engine = create_engine(TEST_DATABASE_URL)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except Exception as exc:  # pragma: no cover - environment problem, say so plainly
        pytest.exit(f"Postgres at {TEST_DATABASE_URL} is not reachable: {exc}", returncode=3)
    command.upgrade(alembic_config(TEST_DATABASE_URL), "head")
    with engine.begin() as conn:
        conn.execute(text(EFFECTS_DDL))
    yield engine
    engine.dispose()


@pytest.fixture
def db(pg_engine: Engine) -> Iterator[Engine]:
    """A Postgres engine on empty tables."""
    with pg_engine.begin() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            if row[0] not in TABLES_TO_KEEP
        ]
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    yield pg_engine


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    """A flushed Redis test database."""
    client = redis.Redis.from_url(TEST_BROKER_URL)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:  # pragma: no cover
        pytest.exit(f"Redis at {TEST_BROKER_URL} is not reachable: {exc}", returncode=3)
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def settings(db: Engine, broker: redis.Redis) -> Settings:
    return load_settings()


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(settings)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path
