"""Fixtures for the command API: a fake Stripe, the app in-process, a gateway, a runner."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from domain.commands.models import FINISHED
from domain.plans import load_catalog
from domain.settings import Settings, load_settings
from ingest.app import create_app
from tests.support.env import API_TOKEN
from tests.support.fake_stripe import API_KEY, FakeStripe
from workers.commands.runner import run_commands
from workers.runtime import Runtime
from workers.stripe_gateway import StripeGateway, make_gateway

READER_TOKEN = "reader-token-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe(hang_seconds=2.0).start()
    fake.resources.prices = {p.price_id: p.amount for p in load_catalog().plans}
    yield fake
    fake.stop()


def stripe_env(fake: FakeStripe) -> dict[str, str]:
    """What a process needs to call the fake Stripe (short timeout for the hang fault)."""
    return {
        "STRIPE_API_BASE": fake.url,
        "STRIPE_API_KEY": API_KEY,
        "STRIPE_TIMEOUT_SECONDS": "1",
        "STRIPE_RATE_LIMIT_PER_SECOND": "200",
        "COMMAND_MAX_ATTEMPTS": "4",
    }


@pytest.fixture
def settings(
    settings: Settings, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The suite's settings, pointed at the fake Stripe (the `runtime` fixture uses these)."""
    for name, value in stripe_env(fake_stripe).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(
        "API_TOKENS", f"tester:{API_TOKEN}:commands+read+ops,reader:{READER_TOKEN}:read"
    )
    return load_settings()


@pytest.fixture
def gateway(settings: Settings) -> StripeGateway:
    return make_gateway(settings)


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


class Commands:
    """Post commands through the API and run them in-process until they finish."""

    def __init__(self, api: TestClient, rt: Runtime, gateway: StripeGateway) -> None:
        self.api, self.rt, self.gateway = api, rt, gateway
        self.n = 0

    def post(
        self, type_: str, account_ref: str = "acct_1", key: str | None = None, **params: Any
    ) -> Any:
        self.n += 1
        body = {"type": type_, "account_ref": account_ref, "params": params}
        headers = {**AUTH, "Idempotency-Key": key or f"key-{time.monotonic_ns()}-{self.n}"}
        return self.api.post("/v1/commands", json=body, headers=headers)

    def get(self, command_id: str) -> dict[str, Any]:
        response = self.api.get(f"/v1/commands/{command_id}", headers=AUTH)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def drive(self, command_id: str, timeout: float = 15.0) -> dict[str, Any]:
        """Run (and re-run after backoff) until the command is finished."""
        deadline = time.monotonic() + timeout
        while True:
            run_commands(self.rt, [command_id], self.gateway)
            view = self.get(command_id)
            if view["status"] in FINISHED or time.monotonic() > deadline:
                return view
            time.sleep(0.1)

    def run(self, type_: str, account_ref: str = "acct_1", **params: Any) -> dict[str, Any]:
        """Post, check it was accepted, and drive it to the end."""
        response = self.post(type_, account_ref, **params)
        assert response.status_code == 202, response.text
        return self.drive(response.json()["id"])


@pytest.fixture
def commands(api: TestClient, runtime: Runtime, gateway: StripeGateway) -> Commands:
    return Commands(api, runtime, gateway)
