"""The 0002 revision matches the models on Postgres and SQLite, and is reversible."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect

import domain.mirror  # noqa: F401  (registers the mirror tables)
from domain.models import Base
from migrations import alembic_config

MIRROR = {
    "billing_accounts",
    "subscriptions",
    "subscription_items",
    "invoices",
    "payment_methods",
    "checkout_sessions",
    "notifications",
}


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # test_effects is created by the shared test fixtures, not by a migration.
    return not (type_ == "table" and name == "test_effects")


def drift(engine: Engine) -> list[object]:
    opts = {"compare_type": True, "include_object": _ours}
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata))


def test_no_drift_on_postgres(pg_engine: Engine) -> None:
    assert drift(pg_engine) == []


def test_no_drift_and_reversible_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = alembic_config(url)
    engine = create_engine(url)
    command.upgrade(cfg, "head")
    assert set(inspect(engine).get_table_names()) >= MIRROR
    assert drift(engine) == []
    command.downgrade(cfg, "0001")
    assert not MIRROR & set(inspect(create_engine(url)).get_table_names())
    command.upgrade(cfg, "head")
    assert drift(create_engine(url)) == []
