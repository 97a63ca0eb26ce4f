"""Fixtures for thin events: a fake Stripe the gateway calls, and the settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.settings import Settings, load_settings
from tests.support.fake_stripe import API_KEY, FakeStripe
from workers.stripe_gateway import StripeGateway, make_gateway


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe(hang_seconds=2.0).start()
    yield fake
    fake.stop()


@pytest.fixture
def settings(
    settings: Settings, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    for name, value in {
        "STRIPE_API_BASE": fake_stripe.url,
        "STRIPE_API_KEY": API_KEY,
        "STRIPE_TIMEOUT_SECONDS": "1",
        "STRIPE_RATE_LIMIT_PER_SECOND": "200",
    }.items():
        monkeypatch.setenv(name, value)
    return load_settings()


@pytest.fixture
def gateway(settings: Settings) -> StripeGateway:
    return make_gateway(settings)
