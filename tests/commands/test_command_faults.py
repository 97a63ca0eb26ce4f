"""Invariant 6: transient faults retry under the same key (one object); permanent ones fail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from domain.commands.sweep import sweep_commands
from domain.retry import RetryPolicy
from domain.types import utcnow
from tests.commands.conftest import Commands
from tests.support.fake_stripe import FakeStripe

POLICY = RetryPolicy(0.2, 2, 4)


@pytest.mark.parametrize("fault", ["429", "500", "hang", "drop"])
def test_transient_fault_retries_and_stripe_creates_one_customer(
    commands: Commands, fake_stripe: FakeStripe, fault: str
) -> None:
    fake_stripe.fail_next(fault, on="POST /v1/customers")
    view = commands.run("customer.ensure")
    assert view["status"] == "succeeded", view
    assert view["attempts"] == 2
    assert fake_stripe.created("customer") == 1
    assert fake_stripe.calls("POST", "/v1/customers") == 2


def test_transient_errors_on_a_second_step_replay_the_first(
    commands: Commands, fake_stripe: FakeStripe
) -> None:
    commands.run("customer.ensure")
    # Checkout create: processed, answer lost, twice.
    fake_stripe.fail_next("drop", times=2, on="POST /v1/checkout/sessions")
    view = commands.run(
        "checkout.create",
        tier="pro",
        interval="year",
        success_url="https://a.example/",
        cancel_url="https://a.example/",
    )
    assert view["status"] == "succeeded" and view["attempts"] == 3
    assert fake_stripe.created("checkout.session") == 1


def test_card_error_fails_at_once_with_the_decline_code(
    commands: Commands, fake_stripe: FakeStripe
) -> None:
    commands.run("customer.ensure")
    view = commands.run(
        "payment_method.attach", payment_method_id="pm_card_visa_chargeDeclinedInsufficientFunds"
    )
    assert view["status"] == "failed" and view["attempts"] == 1
    error = view["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        "card_declined",
        "insufficient_funds",
    )
    assert error["message"] == "Your card was declined."
    assert fake_stripe.calls("POST", "/v1/payment_methods") == 1


def test_should_retry_false_is_final_and_true_retries(
    commands: Commands, fake_stripe: FakeStripe
) -> None:
    fake_stripe.fail_next("500", should_retry="false", on="POST /v1/customers")
    final = commands.run("customer.ensure")
    assert final["status"] == "failed" and final["attempts"] == 1
    assert final["error"]["http_status"] == 500
    fake_stripe.fail_next("429", should_retry="true", retry_after="0.5", on="POST /v1/customers")
    retried = commands.run("customer.ensure")
    assert retried["status"] == "succeeded" and retried["attempts"] == 2


def test_invalid_request_and_authentication_fail_at_once(
    commands: Commands, fake_stripe: FakeStripe, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_vat = commands.run("customer.update_billing_details", vat_number="NL000000000B00")
    # Well-formed, so it passes our check, but Stripe refuses it: a permanent error.
    assert bad_vat["status"] == "failed" and bad_vat["error"]["type"] == "invalid_request_error"
    assert bad_vat["attempts"] == 1
    from workers.stripe_gateway import make_gateway

    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_wrong")
    from domain.settings import load_settings

    commands.gateway = make_gateway(load_settings())
    denied = commands.run("customer.ensure", account_ref="acct_auth")
    assert denied["status"] == "failed" and denied["error"]["http_status"] == 401


def test_attempts_exhausted_means_dead(commands: Commands, fake_stripe: FakeStripe) -> None:
    fake_stripe.fail_next("500", times=10)
    view = commands.run("customer.ensure")
    assert view["status"] == "dead" and view["attempts"] == 4
    assert view["error"]["type"] == "api_error"


def test_commands_of_one_account_run_in_order_of_arrival(
    commands: Commands, fake_stripe: FakeStripe
) -> None:
    fake_stripe.fail_next("500")
    ids = [commands.post("customer.ensure").json()["id"] for _ in range(3)]
    other = commands.post("customer.ensure", account_ref="acct_other").json()["id"]
    from workers.commands.runner import run_commands

    # The head failed transiently: nothing behind it runs, other accounts are not held up.
    outcome = run_commands(commands.rt, [ids[2], ids[1], other], commands.gateway)
    assert outcome.retrying == [ids[0]] and outcome.succeeded == [other]
    assert [commands.get(i)["status"] for i in ids] == ["retrying", "queued", "queued"]
    commands.drive(ids[2])
    views = [commands.get(i) for i in ids]
    assert [v["status"] for v in views] == ["succeeded"] * 3
    finished = [v["finished_at"] for v in views]
    assert finished == sorted(finished)
    assert [v["result"]["created"] for v in views] == [True, False, False]


def test_sweeper_republishes_lost_heads_and_expires_dead_leases(commands: Commands) -> None:
    first = commands.post("customer.ensure").json()["id"]
    second = commands.post("customer.ensure").json()["id"]
    later = utcnow() + timedelta(seconds=5)
    with commands.rt.sessions.begin() as session:
        swept = sweep_commands(session, later, timedelta(seconds=1), POLICY, 100)
    assert swept.republish == [first]  # the second waits behind it
    with commands.rt.sessions.begin() as session:
        session.execute(
            text(
                "UPDATE commands SET status='running', lease_token='x', "
                "lease_expires_at=now() - interval '1 second' WHERE id=:i"
            ),
            {"i": first},
        )
        swept = sweep_commands(session, utcnow(), timedelta(seconds=1), POLICY, 100)
    assert swept.expired == 1
    view = commands.get(first)
    assert view["status"] == "retrying" and view["attempts"] == 1
    assert commands.drive(second)["status"] == "succeeded"
    assert commands.get(first)["status"] == "succeeded"
