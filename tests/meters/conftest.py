"""Fixtures for meter reporting: a fake Stripe with a meter, settings pointed at it, accounts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from domain.mirror.tables import BillingAccount
from domain.settings import Settings, load_settings
from domain.types import utcnow
from domain.usage.records import NewUsage, add_usage
from tests.support.fake_stripe import API_KEY, FakeStripe
from workers.meters.reporter import MeterReporter, ReporterConfig
from workers.runtime import Runtime
from workers.stripe_gateway import StripeGateway, make_gateway

METER = "api_calls"


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe(hang_seconds=2.0).start()
    fake.meters.add_meter(METER)
    yield fake
    fake.stop()


@pytest.fixture
def settings(
    settings: Settings, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    env = {
        "STRIPE_API_BASE": fake_stripe.url,
        "STRIPE_METER_EVENTS_BASE": fake_stripe.url,
        "STRIPE_API_KEY": API_KEY,
        "STRIPE_TIMEOUT_SECONDS": "2",
        "STRIPE_RATE_LIMIT_PER_SECOND": "1000",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


@pytest.fixture
def gateway(settings: Settings) -> StripeGateway:
    return make_gateway(settings)


def link(session: Session, account_ref: str, customer: str) -> None:
    now = utcnow()
    session.add(
        BillingAccount(
            account_ref=account_ref, stripe_customer_id=customer, created_at=now, updated_at=now
        )
    )


def usage(
    session: Session, account_ref: str, n: int, at: datetime, *, prefix: str = "r", qty: int = 1
) -> list[str]:
    ids = [f"{prefix}-{account_ref}-{i}" for i in range(n)]
    add_usage(
        session,
        [
            NewUsage(i, account_ref, METER, qty, at + timedelta(milliseconds=k))
            for k, i in enumerate(ids)
        ],
        utcnow(),
    )
    return ids


@pytest.fixture
def make_reporter(runtime: Runtime, gateway: StripeGateway) -> Callable[..., MeterReporter]:
    def make(after_send: Callable[..., None] | None = None, **options: object) -> MeterReporter:
        config = ReporterConfig(**{"retry_base_seconds": 0.01, **options})  # type: ignore[arg-type]
        return MeterReporter(
            runtime.sessions, gateway, config, sleep=lambda _: None, after_send=after_send
        )

    return make
