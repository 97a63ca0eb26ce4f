"""Small queries tests use to observe the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

KEEP = {"alembic_version"}


def truncate_all(engine: Engine) -> None:
    """Empty every table of the run's database but Alembic's (a new family's too)."""
    with engine.begin() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
            if row[0] not in KEEP
        ]
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


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
