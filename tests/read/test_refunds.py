"""GET /v1/accounts/{ref}/refunds end to end; the account is found through the charge."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from domain.settings import Settings
from tests.mirror import factory as f
from tests.mirror import factory_payments as p
from tests.read.support import AUTH, Pipeline, app_client, app_settings
from workers.runtime import Runtime

T0 = 1_730_000_000
ACCT, CUS = "org_refunds", "cus_refunds"
PATH = f"/v1/accounts/{ACCT}/refunds"


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    yield from app_client(app_settings())


@pytest.fixture
def pipe(client: TestClient, runtime: Runtime) -> Pipeline:
    return Pipeline(client, runtime)


def seed(pipe: Pipeline) -> None:
    """Refunds of an intent's charge, of a direct charge and of an intent alone, one of
    them arriving before its charge; and another customer's refund."""
    pipe.deliver(f.event("customer.created", f.customer(CUS, account_ref=ACCT), T0))
    pipe.deliver(
        # Before its charge: listed as soon as the charge is mirrored.
        f.event("refund.created", p.refund("re_1", "ch_1", "pending", created=T0 + 10), T0 + 10),
        f.event(
            "charge.refunded",
            p.charge("ch_1", CUS, payment_intent="pi_1", amount_refunded=1000, created=T0),
            T0 + 11,
        ),
        f.event("payment_intent.succeeded", p.payment_intent("pi_1", CUS, "succeeded"), T0 + 1),
        f.event("charge.succeeded", p.charge("ch_2", CUS, created=T0 + 1), T0 + 1),
        f.event(
            "refund.failed",
            p.refund(
                "re_2", "ch_2", "failed", failure_reason="expired_or_canceled_card", created=T0 + 20
            ),
            T0 + 21,
        ),
        f.event("payment_intent.succeeded", p.payment_intent("pi_3", CUS, "succeeded"), T0 + 2),
        f.event(
            "refund.created",
            p.refund("re_3", None, payment_intent="pi_3", amount=500, created=T0 + 30),
            T0 + 30,
        ),
        f.event("charge.succeeded", p.charge("ch_x", "cus_other", created=T0), T0),
        f.event("refund.created", p.refund("re_x", "ch_x", created=T0 + 40), T0 + 40),
    )


def test_refunds_of_the_accounts_payments_newest_first(pipe: Pipeline) -> None:
    seed(pipe)
    body = pipe.get(PATH)
    assert [r["id"] for r in body["data"]] == ["re_3", "re_2", "re_1"]
    re_3, re_2, re_1 = body["data"]
    assert re_1 == {
        "id": "re_1",
        "charge_id": "ch_1",
        "payment_intent_id": None,
        "status": "pending",
        "amount": {"amount": 1000, "currency": "eur"},
        "reason": "requested_by_customer",
        "failure_reason": None,
        "created": iso(T0 + 10),
        "payment_id": "pi_1",  # through its charge
    }
    assert (re_2["status"], re_2["failure_reason"], re_2["payment_id"]) == (
        "failed",
        "expired_or_canceled_card",
        "ch_2",  # a direct charge is its own payment
    )
    assert (re_3["charge_id"], re_3["payment_id"]) == (None, "pi_3")


def test_status_filter_and_pagination(pipe: Pipeline) -> None:
    seed(pipe)
    assert [r["id"] for r in pipe.get(PATH, status="failed")["data"]] == ["re_2"]
    first = pipe.get(PATH, limit=2)
    second = pipe.get(PATH, limit=2, cursor=first["next_cursor"])
    assert [r["id"] for r in first["data"] + second["data"]] == ["re_3", "re_2", "re_1"]
    assert second["next_cursor"] is None


def test_the_payment_shows_the_amount_refunded(pipe: Pipeline) -> None:
    seed(pipe)
    payments = {x["id"]: x for x in pipe.get(f"/v1/accounts/{ACCT}/payments")["data"]}
    assert payments["pi_1"]["amount_refunded"] == 1000
    assert payments["ch_2"]["amount_refunded"] == 0


def test_unknown_account_is_404(client: TestClient) -> None:
    answer = client.get("/v1/accounts/org_missing/refunds", headers=AUTH)
    assert answer.status_code == 404 and answer.json()["error"] == "account_not_found"
