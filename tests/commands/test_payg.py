"""payg.enable / payg.disable against the fake Stripe: one metered item however often the
command runs or is retried, the flag set with the result, and the gate's answer after."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from domain.commands.params import PaygToggle
from domain.commands.sweep import sweep_commands
from domain.credits import ledger
from domain.credits.tables import EntryKind, EntrySource
from domain.settings import Settings, load_settings
from domain.types import utcnow
from domain.usage.records import USAGE_RECORDS
from tests.commands.conftest import AUTH, Commands
from tests.commands.test_speaking_subscription import subscribe
from tests.commands.webhooks import deliver, latest
from tests.support.env import API_TOKEN
from tests.support.fake_stripe import FakeStripe
from workers.commands import payg
from workers.commands.context import ExecContext, Outcome
from workers.commands.executors import EXECUTORS
from workers.commands.runner import command_policy, run_commands
from workers.runtime import Runtime

PAYG_PRICE = "price_payg_credits"  # domain/plans.toml


@pytest.fixture
def settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The commands suite's settings, with the `usage` scope for the credit gate."""
    monkeypatch.setenv("API_TOKENS", f"tester:{API_TOKEN}:commands+read+ops+usage")
    return load_settings()


@pytest.fixture
def subscribed(commands: Commands, fake_stripe: FakeStripe, runtime: Runtime) -> str:
    fake_stripe.resources.metered_prices = {PAYG_PRICE}
    return subscribe(commands, fake_stripe, runtime, "active")


def payg_items(fake: FakeStripe, sub_id: str) -> list[dict[str, Any]]:
    items = fake.resources.objects[sub_id]["items"]["data"]
    return [i for i in items if i["price"]["id"] == PAYG_PRICE]


def mirror_prices(rt: Runtime, sub_id: str) -> list[str | None]:
    with rt.sessions() as session:
        rows = session.execute(
            text("SELECT price_id FROM subscription_items WHERE subscription_id = :s ORDER BY id"),
            {"s": sub_id},
        ).scalars()
        return sorted(rows, key=str)


def payg_flag(rt: Runtime, account_ref: str = "acct_1") -> bool | None:
    with rt.sessions() as session:
        row = ledger.balance_of(session, account_ref)
    return None if row is None else bool(row.payg)


def test_enable_adds_the_metered_item_once_and_sets_the_flag(
    commands: Commands, fake_stripe: FakeStripe, runtime: Runtime, subscribed: str
) -> None:
    done = commands.run("payg.enable")
    assert done["status"] == "succeeded", done
    result = done["result"]
    assert result["payg"] is True and result["added"] is True
    assert result["subscription_id"] == subscribed and result["price_id"] == PAYG_PRICE
    items = payg_items(fake_stripe, subscribed)
    assert [i["id"] for i in items] == [result["item_id"]]
    assert items[0]["quantity"] is None  # no quantity sent for a metered price
    assert payg_flag(runtime) is True
    # The mirror shows the item at once (before the subscription's webhook).
    assert mirror_prices(runtime, subscribed) == [PAYG_PRICE, "price_pro_month"]
    again = commands.run("payg.enable")  # a second command finds the item already there
    assert again["status"] == "succeeded" and again["result"]["added"] is False
    assert again["result"]["item_id"] == result["item_id"]
    assert len(payg_items(fake_stripe, subscribed)) == 1
    assert fake_stripe.calls("POST", "/v1/subscription_items") == 1
    # The plan item stays first: the mirror's plan is the subscription's first item.
    deliver(runtime, latest(fake_stripe, "customer.subscription.updated"))
    plan = fake_stripe.resources.objects[subscribed]["items"]["data"][0]
    assert plan["price"]["id"] == "price_pro_month"


def test_a_dropped_answer_is_retried_without_a_second_item(
    commands: Commands, fake_stripe: FakeStripe, runtime: Runtime, subscribed: str
) -> None:
    # Stripe adds the item, the answer is lost: the retry sees it on Stripe's subscription.
    fake_stripe.fail_next("drop", on="POST /v1/subscription_items")
    done = commands.run("payg.enable")
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    assert len(payg_items(fake_stripe, subscribed)) == 1
    assert done["result"]["item_id"] == payg_items(fake_stripe, subscribed)[0]["id"]
    assert payg_flag(runtime) is True


def test_a_crash_before_the_commit_leaves_the_flag_off_and_the_retry_adds_nothing(
    commands: Commands,
    fake_stripe: FakeStripe,
    runtime: Runtime,
    subscribed: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    command_id = commands.post("payg.enable").json()["id"]

    def crash(*args: Any) -> None:
        raise RuntimeError("worker killed before the commit")

    monkeypatch.setattr("workers.commands.runner.store.succeed", crash)
    with pytest.raises(RuntimeError):
        run_commands(runtime, [command_id], commands.gateway)
    monkeypatch.undo()
    assert len(payg_items(fake_stripe, subscribed)) == 1  # Stripe has it ...
    assert not payg_flag(runtime)  # ... our flag rolled back with the result
    with runtime.sessions.begin() as session:
        session.execute(
            text("UPDATE commands SET lease_expires_at = now() - interval '1 second' WHERE id=:i"),
            {"i": command_id},
        )
        swept = sweep_commands(session, utcnow(), timedelta(seconds=1), command_policy(runtime), 10)
    assert swept.expired == 1
    done = commands.drive(command_id)
    assert done["status"] == "succeeded", done
    assert done["result"]["added"] is False
    assert len(payg_items(fake_stripe, subscribed)) == 1
    assert fake_stripe.calls("POST", "/v1/subscription_items") == 1
    assert payg_flag(runtime) is True


def test_disable_removes_the_item_and_is_idempotent(
    commands: Commands, fake_stripe: FakeStripe, runtime: Runtime, subscribed: str
) -> None:
    enabled = commands.run("payg.enable")["result"]
    done = commands.run("payg.disable")
    assert done["status"] == "succeeded", done
    assert done["result"]["removed_item_ids"] == [enabled["item_id"]]
    assert payg_items(fake_stripe, subscribed) == []
    assert len(fake_stripe.resources.objects[subscribed]["items"]["data"]) == 1  # the plan
    assert payg_flag(runtime) is False
    assert mirror_prices(runtime, subscribed) == ["price_pro_month"]
    again = commands.run("payg.disable")  # no item: just the flag
    assert again["status"] == "succeeded" and again["result"]["removed_item_ids"] == []
    assert fake_stripe.calls("DELETE", "/v1/subscription_items") == 1
    # On and off again: a new item (a new command, a new key).
    assert commands.run("payg.enable")["result"]["added"] is True
    assert len(payg_items(fake_stripe, subscribed)) == 1


def test_disable_without_customer_or_subscription_just_turns_the_flag_off(
    commands: Commands, fake_stripe: FakeStripe, runtime: Runtime
) -> None:
    with runtime.sessions.begin() as session:
        ledger.set_payg(session, "acct_1", True, utcnow())
    done = commands.run("payg.disable")
    assert done["status"] == "succeeded", done
    assert done["result"] == {
        "payg": False,
        "subscription_id": None,
        "price_id": PAYG_PRICE,
        "removed_item_ids": [],
    }
    assert payg_flag(runtime) is False
    assert fake_stripe.calls("DELETE", "/v1/subscription_items") == 0


def test_enable_without_a_subscription_fails_permanently(
    commands: Commands, fake_stripe: FakeStripe, runtime: Runtime
) -> None:
    done = commands.run("payg.enable")  # creates the customer, finds no subscription
    assert done["status"] == "failed", done
    assert done["attempts"] == 1 and done["error"]["code"] == "no_subscription"
    assert fake_stripe.created("customer") == 1
    assert fake_stripe.calls("POST", "/v1/subscription_items") == 0
    assert not payg_flag(runtime)


def test_enable_without_a_payg_price_in_the_catalog_fails_permanently(
    commands: Commands, fake_stripe: FakeStripe, runtime: Runtime, subscribed: str
) -> None:
    def no_payg(ctx: ExecContext, p: PaygToggle) -> Outcome:
        catalog = dataclasses.replace(ctx.catalog, payg_price_id=None, meter=None)
        return payg.enable(dataclasses.replace(ctx, catalog=catalog), p)

    command_id = commands.post("payg.enable").json()["id"]
    run_commands(runtime, [command_id], commands.gateway, {**EXECUTORS, "payg.enable": no_payg})
    view = commands.get(command_id)
    assert view["status"] == "failed" and view["attempts"] == 1
    assert view["error"]["code"] == "payg_not_configured"
    assert payg_items(fake_stripe, subscribed) == []
    assert not payg_flag(runtime)


def test_the_gate_answers_overage_once_payg_is_on(
    commands: Commands, fake_stripe: FakeStripe, runtime: Runtime, subscribed: str
) -> None:
    with runtime.sessions.begin() as session:
        ledger.append(
            session,
            ledger.NewEntry(
                entry_id="manual:test",
                account_ref="acct_1",
                kind=EntryKind.GRANT,
                credits=10,
                source=EntrySource.MANUAL,
                reason="test",
            ),
            utcnow(),
        )
        row = ledger.balance_of(session, "acct_1")
    assert row is not None
    balance = int(row.balance)

    def consume(cid: str, credits: int) -> tuple[int, dict[str, Any]]:
        body = {"id": cid, "account_ref": "acct_1", "credits": credits}
        answer = commands.api.post("/v1/credits/consume", json=body, headers=AUTH)
        return answer.status_code, answer.json()

    status, body = consume("c1", balance + 5)
    assert status == 402 and body["error"] == "credits_exhausted"
    assert commands.run("payg.enable")["status"] == "succeeded"
    assert consume("c2", balance + 5) == (200, {"remaining": 0, "overage": 5, "payg": True})
    with runtime.sessions() as session:  # the overage, waiting for the usage reporter
        usage = session.execute(
            select(USAGE_RECORDS).where(USAGE_RECORDS.c.id == "overage:c2")
        ).one()
    assert (usage.account_ref, usage.quantity, usage.meter) == ("acct_1", 5, "api_credits")
    assert (usage.source, usage.report_status) == ("overage", "pending")
    assert commands.run("payg.disable")["status"] == "succeeded"
    assert consume("c3", 1)[0] == 402


def test_the_api_accepts_the_payg_types_with_no_params(commands: Commands) -> None:
    for type_ in ("payg.enable", "payg.disable"):
        accepted = commands.post(type_)
        assert accepted.status_code == 202, accepted.text
        refused = commands.post(type_, on=True)
        assert refused.status_code == 422, refused.text
        assert "params.on" in {f["field"] for f in refused.json()["fields"]}


def test_payg_items_match_the_price_as_an_id_or_an_expanded_object() -> None:
    subscription = {
        "items": {
            "data": [
                {"id": "si_plan", "price": {"id": "price_pro_month"}},
                {"id": "si_payg", "price": {"id": PAYG_PRICE}},
                {"id": "si_old", "price": PAYG_PRICE},
            ]
        }
    }
    assert [i["id"] for i in payg.payg_items(subscription, PAYG_PRICE)] == ["si_payg", "si_old"]
    assert payg.payg_items({"items": None}, PAYG_PRICE) == []
