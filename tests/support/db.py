"""Small queries tests use to observe the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Engine, String, text

KEEP = {"alembic_version"}


def truncate_all(engine: Engine) -> None:
    """Empty every table of the run's database but Alembic's (a new family's too).

    TRUNCATE of every table costs about half a second (a new file per table, each fsynced),
    and the `db` fixture empties the tables before each test: DELETE of the few rows a test
    leaves takes milliseconds. Foreign keys are not checked while emptying (replica role,
    which a superuser may set); without that right, TRUNCATE ... CASCADE does it.
    """
    with engine.begin() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            if row[0] not in KEEP
        ]
        if not tables:
            return
        superuser = conn.execute(
            text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        ).scalar()
        if not superuser:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            return
        sequences = conn.execute(
            text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
        ).scalars()
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("; ".join(f'DELETE FROM "{t}"' for t in tables)))
        restarts = [f'ALTER SEQUENCE "{s}" RESTART' for s in sequences]
        if restarts:
            conn.execute(text("; ".join(restarts)))


def effects(engine: Engine, event_id: str | None = None) -> int:
    """How many times test handlers committed their effect (for one event, or in all)."""
    sql = "SELECT count(*) FROM test_effects"
    params: dict[str, Any] = {}
    if event_id is not None:
        sql += " WHERE event_id = :e"
        params["e"] = event_id
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def event_row(engine: Engine, event_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = (
            conn.execute(text("SELECT * FROM stripe_events WHERE event_id = :e"), {"e": event_id})
            .mappings()
            .first()
        )
    return dict(row) if row else None


def statuses(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM stripe_events GROUP BY status"))
        return {r[0]: int(r[1]) for r in rows}


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def column_length(column: ColumnElement[Any]) -> int:
    """The declared length of a String (or non-native Enum) column, e.g. `String(255)`."""
    assert isinstance(column.type, String) and column.type.length is not None, column
    return column.type.length
