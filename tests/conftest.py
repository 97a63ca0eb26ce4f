"""Shared fixtures: a migrated Postgres test database, a clean Redis, settings, processes."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from tests.support.env import (
    API_TOKEN,
    BROKER_KEY_PREFIX,
    PGBOUNCER_PORT,
    SERVER_DATABASE_URL,
    TEST_BROKER_URL,
    TEST_DATABASE_URL,
    VIA_PGBOUNCER,
    service_env,
)

# In-process code (the Celery app module, runtimes) reads the same environment as children.
os.environ.update(service_env())

from domain.settings import Settings, load_settings
from ingest.app import create_app
from tests.support.db import truncate_all
from tests.support.handlers import EFFECTS_DDL
from tests.support.pgbouncer import PgBouncer
from tests.support.pgbouncer_subset import in_pgbouncer_subset
from tests.support.redis_server import RedisServer
from tests.support.run_database import create_run_database, drop_run_database
from workers.runtime import Runtime, build_runtime


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """TEST_VIA_PGBOUNCER=1 runs only the subset chosen for it (docs/testing.md)."""
    if not VIA_PGBOUNCER:
        return
    keep = [item for item in items if in_pgbouncer_subset(item.nodeid)]
    dropped = [item for item in items if not in_pgbouncer_subset(item.nodeid)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session", autouse=True)
def services_pgbouncer(request: pytest.FixtureRequest) -> Iterator[PgBouncer | None]:
    """With TEST_VIA_PGBOUNCER=1, the PgBouncer (transaction mode) the services connect to."""
    if not VIA_PGBOUNCER:
        yield None
        return
    server = make_url(SERVER_DATABASE_URL)
    bouncer = PgBouncer(server.host or "127.0.0.1", server.port or 5432, port=PGBOUNCER_PORT)
    bouncer.start()
    yield bouncer
    try:
        time.sleep(1.5)  # one stats_period
        database = make_url(TEST_DATABASE_URL).database or ""
        # The switch did nothing: say so (the fault suite has a PgBouncer of its own).
        uses_it = any(not i.nodeid.startswith("tests/faults/") for i in request.session.items)
        if uses_it and bouncer.transactions(database) == 0:
            pytest.fail(
                f"TEST_VIA_PGBOUNCER=1 but no transaction went through PgBouncer for {database}"
            )
    finally:
        bouncer.destroy()


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    """This run's own database, created and migrated to head once, dropped at the end."""
    from alembic import command

    from migrations import alembic_config

    try:
        create_run_database()
    except Exception as exc:  # pragma: no cover - environment problem, say so plainly
        pytest.exit(f"Postgres for {TEST_DATABASE_URL} is not reachable: {exc}", returncode=3)
    engine = create_engine(TEST_DATABASE_URL)
    command.upgrade(alembic_config(TEST_DATABASE_URL), "head")
    with engine.begin() as conn:
        conn.execute(text(EFFECTS_DDL))
    yield engine
    engine.dispose()
    drop_run_database()


@pytest.fixture
def db(pg_engine: Engine) -> Iterator[Engine]:
    """A Postgres engine on empty tables."""
    truncate_all(pg_engine)
    yield pg_engine


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    """The shared test Redis with this run's keys (its namespace) removed before and after."""
    client = redis.Redis.from_url(TEST_BROKER_URL)
    try:
        _clear_namespace(client)
    except redis.ConnectionError as exc:  # pragma: no cover
        pytest.exit(f"Redis at {TEST_BROKER_URL} is not reachable: {exc}", returncode=3)
    yield client
    _clear_namespace(client)
    client.close()


def _clear_namespace(client: redis.Redis) -> None:
    keys = list(client.scan_iter(match=f"{BROKER_KEY_PREFIX}*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture
def settings(db: Engine, broker: redis.Redis) -> Settings:
    return load_settings()


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(settings)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def api_client(db: Engine, broker: redis.Redis) -> Iterator[TestClient]:
    """The app in-process with one token of every scope; a 500 is answered, not raised."""
    app = create_app(
        load_settings(api_tokens=f"tester:{API_TOKEN}:commands+read+ops"), publish=lambda i: None
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, which it may kill and restart."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path
