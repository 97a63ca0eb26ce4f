"""The reporter on the embedded default's SQLite: the same claims, sends and marks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command

from domain.db import make_engine, make_sessionmaker
from domain.types import utcnow
from domain.usage.reporting import MeterEvent
from migrations import alembic_config
from tests.meters.conftest import METER, link, usage
from tests.support.fake_stripe import FakeStripe
from workers.meters.reporter import MeterReporter, ReporterConfig
from workers.stripe_gateway import StripeGateway


@pytest.fixture
def sqlite_sessions(tmp_path: Path) -> Iterator[object]:
    url = f"sqlite:///{tmp_path / 'billing.db'}"
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


def test_reported_once_on_sqlite_even_after_a_crash(
    sqlite_sessions: object, fake_stripe: FakeStripe, gateway: StripeGateway
) -> None:
    sessions = sqlite_sessions
    past = utcnow() - timedelta(minutes=10)
    with sessions.begin() as s:  # type: ignore[attr-defined]
        link(s, "acct_a", "cus_a")
        link(s, "acct_b", "cus_b")
        usage(s, "acct_a", 3, past, qty=2)
        usage(s, "acct_b", 1, past)

    def crash(_: Sequence[MeterEvent]) -> None:
        raise RuntimeError("killed")

    config = ReporterConfig()
    with pytest.raises(RuntimeError):
        MeterReporter(sessions, gateway, config, after_send=crash).report_once()  # type: ignore[arg-type]
    outcome = MeterReporter(sessions, gateway, config).report_once()  # type: ignore[arg-type]
    assert outcome.reported_records == 4
    assert fake_stripe.meters.totals() == {("cus_a", METER): 6, ("cus_b", METER): 1}
