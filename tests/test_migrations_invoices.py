"""Migration 0007 (invoices complete, credit notes): the invoice status CHECK accepts a
deleted draft's tombstone and still refuses other values; downgrading drops tombstones."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from migrations import alembic_config
from tests.test_migrations import scratch_postgres

__all__ = ["scratch_postgres"]  # the fixture, reused

INSERT = text(
    "INSERT INTO invoices (id, status, currency, amount_due, amount_paid, amount_remaining,"
    " attempt_count, raw, last_event_created, last_event_rank, last_event_id, updated_at)"
    " VALUES (:id, :status, 'eur', 0, 0, 0, 0, '{}', 1, 0, 'evt_1', CURRENT_TIMESTAMP)"
)


def statuses(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT status FROM invoices ORDER BY id")).scalars())
    finally:
        engine.dispose()


def insert(url: str, invoice_id: str, status: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(INSERT, {"id": invoice_id, "status": status})
    finally:
        engine.dispose()


def check(url: str) -> None:
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    insert(url, "in_deleted", "deleted")
    insert(url, "in_open", "open")
    with pytest.raises(IntegrityError):
        insert(url, "in_bad", "settled")
    command.downgrade(cfg, "0006")
    assert statuses(url) == ["open"]  # the tombstone went with the status it needs
    with pytest.raises(IntegrityError):
        insert(url, "in_deleted", "deleted")
    command.upgrade(cfg, "head")
    insert(url, "in_deleted", "deleted")
    assert statuses(url) == ["deleted", "open"]


def test_sqlite(tmp_path: Path) -> None:
    check(f"sqlite:///{tmp_path / 'billing.db'}")


def test_postgres(scratch_postgres: str) -> None:
    check(scratch_postgres)
