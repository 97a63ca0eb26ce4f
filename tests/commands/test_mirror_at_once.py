"""A command's result shows in the mirror at once, even right after a webhook about the object.

Results are stamped with Stripe's own clock (the answer's `Date` header), so a webhook Stripe
created before the change loses to the result, and one created after it (or the change's
own echo) agrees or supersedes. The fake Stripe's clock is frozen or moved by the tests to
put the webhook and the answer in the same second or a few seconds apart.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from tests.commands.conftest import AUTH, Commands
from tests.commands.webhooks import deliver, latest
from tests.support.fake_stripe import FakeStripe
from workers.runtime import Runtime

URLS = {"success_url": "https://app.example/ok", "cancel_url": "https://app.example/no"}


def account(db: Engine, account_ref: str = "acct_1") -> dict[str, Any]:
    with db.connect() as conn:
        row = conn.execute(
            text("SELECT * FROM billing_accounts WHERE account_ref = :r"), {"r": account_ref}
        )
        return dict(row.mappings().one())


def subscription(db: Engine, sub_id: str) -> dict[str, Any]:
    with db.connect() as conn:
        row = conn.execute(text("SELECT * FROM subscriptions WHERE id = :i"), {"i": sub_id})
        return dict(row.mappings().one())


@pytest.fixture
def frozen(fake_stripe: FakeStripe) -> FakeStripe:
    fake_stripe.clock.freeze()
    return fake_stripe


@pytest.mark.parametrize("seconds_later", [0, 2])
def test_billing_details_right_after_the_creation_webhook_show_at_once(
    commands: Commands, frozen: FakeStripe, runtime: Runtime, db: Engine, seconds_later: int
) -> None:
    created = commands.run("customer.ensure", email="old@example.com", name="Old")
    deliver(runtime, latest(frozen, "customer.created"))
    assert account(db)["email"] == "old@example.com"

    frozen.clock.advance(seconds_later)
    update = commands.run(
        "customer.update_billing_details", company_name="New B.V.", email="new@example.com"
    )
    assert update["status"] == "succeeded", update
    row = account(db)
    assert (row["email"], row["company_name"]) == ("new@example.com", "New B.V."), row

    # The change's own webhook agrees; a later change supersedes.
    deliver(runtime, latest(frozen, "customer.updated"))
    assert account(db)["email"] == "new@example.com"
    frozen.clock.advance(1)
    customer_id = created["result"]["customer_id"]
    frozen.resources.customers.update_customer({"email": "later@example.com"}, customer_id)
    deliver(runtime, latest(frozen, "customer.updated"))
    assert account(db)["email"] == "later@example.com"


@pytest.mark.parametrize("seconds_later", [0, 2])
def test_cancel_right_after_the_subscription_created_webhook_shows_at_once(
    commands: Commands,
    frozen: FakeStripe,
    runtime: Runtime,
    db: Engine,
    api: TestClient,
    seconds_later: int,
) -> None:
    checkout = commands.run("checkout.create", tier="pro", interval="month", **URLS)
    sub_id = frozen.complete_checkout(checkout["result"]["checkout_session_id"])["subscription"]
    deliver(runtime, latest(frozen, "customer.subscription.created"))
    assert subscription(db, sub_id)["cancel_at_period_end"] is False

    frozen.clock.advance(seconds_later)
    cancel = commands.run("subscription.cancel")  # the account's live one, from the mirror
    assert cancel["result"]["subscription_id"] == sub_id
    assert cancel["result"]["cancel_at_period_end"] is True
    assert subscription(db, sub_id)["cancel_at_period_end"] is True
    billing = api.get("/v1/accounts/acct_1", headers=AUTH).json()["billing"]
    assert billing["cancel_at_period_end"] is True

    deliver(runtime, latest(frozen, "customer.subscription.updated"))  # the echo agrees
    assert subscription(db, sub_id)["cancel_at_period_end"] is True
    frozen.clock.advance(1)
    frozen.resources.billing.update_subscription({"cancel_at_period_end": "false"}, sub_id)
    deliver(runtime, latest(frozen, "customer.subscription.updated"))  # a later one wins
    assert subscription(db, sub_id)["cancel_at_period_end"] is False


def test_a_same_second_webhook_from_before_the_change_does_not_undo_it(
    commands: Commands, frozen: FakeStripe, runtime: Runtime, db: Engine
) -> None:
    created = commands.run("customer.ensure", name="Old")
    deliver(runtime, latest(frozen, "customer.created"))
    # Someone else's edit, in the same second, just before ours; its webhook comes late.
    customer_id = created["result"]["customer_id"]
    frozen.resources.customers.update_customer({"email": "stale@example.com"}, customer_id)
    stale = latest(frozen, "customer.updated")
    update = commands.run("customer.update_billing_details", email="ours@example.com")
    assert update["status"] == "succeeded"
    echo = latest(frozen, "customer.updated")
    assert stale["created"] == echo["created"]  # same second, same rank: the tie rule decides
    deliver(runtime, stale)
    assert account(db)["email"] == "ours@example.com"
    deliver(runtime, echo)
    assert account(db)["email"] == "ours@example.com"


def test_a_replayed_answer_is_not_stamped_with_the_replays_date(
    commands: Commands, frozen: FakeStripe, runtime: Runtime, db: Engine
) -> None:
    created = commands.run("customer.ensure", name="Old")
    customer_id = created["result"]["customer_id"]
    deliver(runtime, latest(frozen, "customer.created"))
    # Our update is made, its answer lost: the command retries later.
    frozen.fail_next("drop", on=f"POST /v1/customers/{customer_id}")
    response = commands.post("customer.update_billing_details", email="ours@example.com")
    command_id = response.json()["id"]
    first = commands.drive(command_id, timeout=0)
    assert first["status"] == "retrying", first
    # Meanwhile, ten seconds later, someone changes the customer and its webhook arrives.
    frozen.clock.advance(10)
    frozen.resources.customers.update_customer({"email": "newer@example.com"}, customer_id)
    deliver(runtime, latest(frozen, "customer.updated"))
    # The retry gets Stripe's stored answer (the state before that change), dated now.
    done = commands.drive(command_id)
    assert done["status"] == "succeeded" and done["attempts"] == 2, done
    assert frozen.calls("POST", f"/v1/customers/{customer_id}") == 2
    assert account(db)["email"] == "newer@example.com"


def test_without_a_date_header_results_never_beat_a_webhook(
    commands: Commands, frozen: FakeStripe, runtime: Runtime, db: Engine
) -> None:
    frozen.send_date_header = False
    checkout = commands.run("checkout.create", tier="pro", interval="month", **URLS)
    sub_id = frozen.complete_checkout(checkout["result"]["checkout_session_id"])["subscription"]
    deliver(runtime, latest(frozen, "customer.subscription.created"))
    # Still shown at once over the creation webhook (an update ranks above a creation) ...
    commands.run("subscription.cancel", subscription_id=sub_id)
    assert subscription(db, sub_id)["cancel_at_period_end"] is True
    # ... but never over an update webhook, which may be newer than the change.
    frozen.resources.billing.update_subscription({"metadata": {"n": "1"}}, sub_id)
    deliver(runtime, latest(frozen, "customer.subscription.updated"))
    frozen.clock.advance(1)
    commands.run("subscription.resume", subscription_id=sub_id)
    assert subscription(db, sub_id)["cancel_at_period_end"] is True
    deliver(runtime, latest(frozen, "customer.subscription.updated"))  # the resume's echo
    assert subscription(db, sub_id)["cancel_at_period_end"] is False
