"""An event log on real Postgres (the run's database) and on the SQLite embedded default."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from domain.db import make_engine


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to head once; each test gets a copy."""
    from alembic import command

    from migrations import alembic_config

    path = tmp_path_factory.mktemp("sqlite") / "billing.db"
    command.upgrade(alembic_config(f"sqlite:///{path}"), "head")
    return path


@pytest.fixture(params=["postgres", "sqlite"])
def log_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated event log on each backend."""
    if request.param == "postgres":
        yield request.getfixturevalue("db")
        return
    template: Path = request.getfixturevalue("sqlite_template")
    path = tmp_path / "billing.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()
