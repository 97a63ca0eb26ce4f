"""The read API and the commands agree on which subscription speaks for an account."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.commands.conftest import AUTH, Commands
from tests.commands.webhooks import deliver, latest
from tests.support.fake_stripe import FakeStripe
from workers.runtime import Runtime

URLS = {"success_url": "https://app.example/ok", "cancel_url": "https://app.example/no"}


def subscribe(commands: Commands, fake: FakeStripe, rt: Runtime, status: str) -> str:
    """A paid checkout, then Stripe moves the subscription to `status`; both webhooks land."""
    checkout = commands.run("checkout.create", tier="pro", interval="month", **URLS)
    sub_id = fake.complete_checkout(checkout["result"]["checkout_session_id"])["subscription"]
    deliver(rt, latest(fake, "customer.subscription.created"))
    sub = fake.resources.objects[sub_id]
    if sub["status"] != status:
        fake.clock.advance(1)
        previous = {"status": sub["status"]}
        sub["status"] = status
        fake.resources.emit("customer.subscription.updated", dict(sub), previous)
        deliver(rt, latest(fake, "customer.subscription.updated"))
    return sub_id


@pytest.mark.parametrize(
    ("older", "newer"),
    [("active", "trialing"), ("trialing", "active"), ("unpaid", "paused"), ("paused", "unpaid")],
)
def test_read_api_and_cancel_pick_the_same_subscription(
    commands: Commands,
    fake_stripe: FakeStripe,
    runtime: Runtime,
    api: TestClient,
    older: str,
    newer: str,
) -> None:
    fake_stripe.clock.freeze()
    subscribe(commands, fake_stripe, runtime, older)
    fake_stripe.clock.advance(60)
    newest = subscribe(commands, fake_stripe, runtime, newer)  # equal rank: newest speaks
    shown = api.get("/v1/accounts/acct_1", headers=AUTH).json()["billing"]["subscription_id"]
    assert shown == newest
    cancel = commands.run("subscription.cancel")  # no id: the one that speaks for the account
    assert cancel["status"] == "succeeded", cancel
    assert cancel["result"]["subscription_id"] == shown
