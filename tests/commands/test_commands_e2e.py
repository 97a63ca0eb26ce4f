"""End to end with real processes: uvicorn, a Celery worker, the sweeper, and the fake Stripe
sending signed webhooks back to our endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.commands.conftest import AUTH, stripe_env
from tests.support.env import WEBHOOK_SECRET, service_env
from tests.support.fake_stripe import FakeStripe
from tests.support.processes import Proc, start_server, start_sweeper, start_worker, wait_until

pytestmark = pytest.mark.slow


class Stack:
    def __init__(self, fake: FakeStripe, log_dir: Path) -> None:
        # A longer lease than FAST_TIMINGS: on a loaded machine a 3 s lease can run out
        # mid-call, which is correct (the retry replays) but makes the run slower.
        env = service_env(**stripe_env(fake), LEASE_SECONDS="15")
        self.server, self.url = start_server(env, log_dir)
        self.worker = start_worker(env, log_dir, concurrency=2)
        self.sweeper = start_sweeper(env, log_dir)
        fake.send_webhooks_to(f"{self.url}/webhooks/stripe", WEBHOOK_SECRET)
        self.client = httpx.Client(base_url=self.url, headers=AUTH, timeout=40)

    def command(self, type_: str, key: str, account_ref: str = "acct_e2e", **params: Any) -> str:
        body = {"type": type_, "account_ref": account_ref, "params": params}
        response = self.client.post("/v1/commands", json=body, headers={"Idempotency-Key": key})
        assert response.status_code in (200, 202), response.text
        return str(response.json()["id"])

    def wait(self, command_id: str) -> dict[str, Any]:
        view = self.client.get(f"/v1/commands/{command_id}", params={"wait": 30}).json()
        assert view["status"] == "succeeded", (view, self.logs())
        return dict(view)

    def logs(self) -> str:
        procs: list[Proc] = [self.server, self.worker, self.sweeper]
        return "\n".join(f"--- {p.log_path.name}\n{p.output()[-3000:]}" for p in procs)

    def stop(self) -> None:
        self.client.close()
        for proc in (self.server, self.worker, self.sweeper):
            proc.stop()


@pytest.fixture
def stack(db: Engine, broker: object, fake_stripe: FakeStripe, log_dir: Path) -> Iterator[Stack]:
    s = Stack(fake_stripe, log_dir)
    yield s
    s.stop()


def test_ensure_checkout_webhooks_then_the_read_api_shows_it_entitled(
    stack: Stack, fake_stripe: FakeStripe
) -> None:
    customer = stack.wait(stack.command("customer.ensure", "e2e-1", email="a@example.com"))
    checkout = stack.wait(
        stack.command(
            "checkout.create",
            "e2e-2",
            tier="pro",
            interval="month",
            success_url="https://app.example/ok",
            cancel_url="https://app.example/no",
        )
    )
    assert checkout["result"]["customer_id"] == customer["result"]["customer_id"]
    assert checkout["result"]["url"].startswith("https://")
    paid = fake_stripe.complete_checkout(checkout["result"]["checkout_session_id"])
    assert fake_stripe.wait_delivered(10)

    # What the product reads: the account over HTTP, once the webhooks were processed.
    def billing() -> dict[str, Any]:
        response = stack.client.get("/v1/accounts/acct_e2e")
        return dict(response.json()["billing"]) if response.status_code == 200 else {}

    assert wait_until(lambda: billing().get("entitled") is True, 20), stack.logs()
    account = stack.client.get("/v1/accounts/acct_e2e").json()
    assert account["customer"]["stripe_customer_id"] == customer["result"]["customer_id"]
    assert account["billing"] == {
        **account["billing"],
        "subscription_id": paid["subscription"],
        "plan_tier": "pro",
        "plan_interval": "month",
        "status": "active",
        "entitled": True,
        "in_grace_period": False,
        "cancel_at_period_end": False,
    }
    assert account["billing"]["current_period_end"] is not None
    # The events GET /v1/events lists are the ones delivered.
    events = httpx.get(
        f"{fake_stripe.url}/v1/events",
        params={"types[]": "checkout.session.completed", "delivery_success": "true"},
        headers={"Authorization": "Bearer sk_test_fake_0123456789"},
    ).json()
    assert [e["type"] for e in events["data"]] == ["checkout.session.completed"]


def test_200_concurrent_ensures_make_one_customer(stack: Stack, fake_stripe: FakeStripe) -> None:
    with ThreadPoolExecutor(32) as pool:
        ids = list(pool.map(lambda n: stack.command("customer.ensure", f"many-{n}"), range(200)))
    views = [stack.wait(i) for i in ids]
    assert fake_stripe.created("customer") == 1
    assert len({v["result"]["customer_id"] for v in views}) == 1
    # Not == 1: if the creating attempt lost its lease, its replay reports created=False.
    assert sum(v["result"]["created"] for v in views) <= 1
