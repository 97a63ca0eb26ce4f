"""Fixtures of the ops tests that talk to Stripe: a fake Stripe and settings pointing at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog
from sqlalchemy import Engine

from domain.settings import Settings, load_settings
from tests.ops.backfill_support import READER
from tests.support.env import API_TOKEN
from tests.support.fake_stripe import API_KEY, FakeStripe


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    stripe = FakeStripe(hang_seconds=1.0).start()
    yield stripe
    stripe.stop()


@pytest.fixture
def stripe_settings(db: Engine, broker: object, fake: FakeStripe) -> Settings:
    return load_settings(
        stripe_api_base=fake.url,
        stripe_api_key=API_KEY,
        stripe_timeout_seconds=1,
        stripe_rate_limit_per_second=500,
        command_max_attempts=1,
        api_tokens=f"tester:{API_TOKEN}:commands+read+ops,reader:{READER}:read",
    )


@pytest.fixture
def quiet_logs() -> Iterator[None]:
    # Unconfigured structlog prints to stdout, which would mix logs into JSON output.
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.stdlib.LoggerFactory())
    yield
    structlog.configure(**saved)
