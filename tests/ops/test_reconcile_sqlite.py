"""Reconcile on the embedded default's SQLite: the same drift found and repaired."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine

from domain.db import make_engine
from domain.ops.audit import Actor
from domain.ops.reconcile_kinds import DEFAULT_KINDS
from domain.settings import Settings
from domain.types import utcnow
from migrations import alembic_config
from tests.families.support import DEPS
from tests.ops.reconcile_support import drifted
from tests.support.fake_stripe import FakeStripe
from workers.reconcile import reconcile_service


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'billing.db'}"
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_reconcile_finds_and_repairs_drift_on_sqlite(
    sqlite: Engine, fake: FakeStripe, stripe_settings: Settings
) -> None:
    drift = drifted(fake, sqlite)
    service = reconcile_service(sqlite, stripe_settings, DEPS, page_size=2, retry_delay=0.01)
    since, actor = utcnow() - timedelta(days=1), Actor("tester", "cli")
    found = service.start(actor, since, DEFAULT_KINDS)
    assert {(f["kind"], f["object_id"]): f["outcome"] for f in found.findings} == drift.expected()
    repaired = service.start(actor, since, DEFAULT_KINDS, repair=True, reason="sqlite")
    assert repaired.repaired == 9
    assert service.start(actor, since, DEFAULT_KINDS).drift == 0
