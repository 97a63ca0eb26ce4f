"""GET /v1/accounts/{ref}/disputes end to end; the account is found through the charge."""

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
ACCT, CUS = "org_disputes", "cus_disputes"
PATH = f"/v1/accounts/{ACCT}/disputes"


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    yield from app_client(app_settings())


@pytest.fixture
def pipe(client: TestClient, runtime: Runtime) -> Pipeline:
    return Pipeline(client, runtime)


def seed(pipe: Pipeline) -> None:
    """A lost dispute that arrived before its charge, an open inquiry on a direct charge,
    and another customer's dispute."""
    pipe.deliver(
        f.event("customer.created", f.customer(CUS, account_ref=ACCT), T0),
        f.event(
            "charge.dispute.closed",
            p.dispute("dp_1", "ch_1", "lost", funds_movements=1, created=T0 + 10),
            T0 + 20,
        ),
        f.event(
            "charge.succeeded", p.charge("ch_1", CUS, payment_intent="pi_1", created=T0), T0 + 1
        ),
        f.event("payment_intent.succeeded", p.payment_intent("pi_1", CUS, "succeeded"), T0 + 1),
        f.event("charge.succeeded", p.charge("ch_2", CUS, created=T0 + 2), T0 + 2),
        f.event(
            "charge.dispute.created",
            p.dispute("dp_2", "ch_2", "warning_needs_response", reason="general", created=T0 + 30),
            T0 + 30,
        ),
        f.event("charge.succeeded", p.charge("ch_x", "cus_other", created=T0), T0),
        f.event("charge.dispute.created", p.dispute("dp_x", "ch_x", created=T0 + 40), T0 + 40),
    )


def test_disputes_of_the_accounts_payments_newest_first(pipe: Pipeline) -> None:
    seed(pipe)
    inquiry, lost = pipe.get(PATH)["data"]
    assert lost == {
        "id": "dp_1",
        "charge_id": "ch_1",
        "payment_intent_id": None,
        "status": "lost",
        "reason": "fraudulent",
        "amount": {"amount": 2900, "currency": "eur"},
        "evidence_due_by": iso(T0 + 10 + 7 * 86_400),
        "evidence_submission_count": 0,
        "is_charge_refundable": True,
        "created": iso(T0 + 10),
        "payment_id": "pi_1",  # its charge's payment intent
    }
    assert (inquiry["id"], inquiry["status"], inquiry["reason"], inquiry["payment_id"]) == (
        "dp_2",
        "warning_needs_response",
        "general",
        "ch_2",
    )


def test_the_payments_show_their_newest_disputes_status(pipe: Pipeline) -> None:
    seed(pipe)
    payments = {x["id"]: x for x in pipe.get(f"/v1/accounts/{ACCT}/payments")["data"]}
    assert payments["pi_1"]["dispute_status"] == "lost"  # a dispute of the intent's charge
    assert payments["ch_2"]["dispute_status"] == "warning_needs_response"  # a direct charge
    pipe.deliver(
        f.event(
            "charge.dispute.created",
            p.dispute("dp_3", "ch_1", "needs_response", created=T0 + 50),
            T0 + 50,
        )
    )
    payments = {x["id"]: x for x in pipe.get(f"/v1/accounts/{ACCT}/payments")["data"]}
    assert payments["pi_1"]["dispute_status"] == "needs_response"  # the newest one


def test_status_filter(pipe: Pipeline) -> None:
    seed(pipe)
    assert [d["id"] for d in pipe.get(PATH, status="lost")["data"]] == ["dp_1"]
    assert pipe.get(PATH, status="won")["data"] == []
    assert pipe.client.get(PATH, params={"status": "angry"}, headers=AUTH).status_code == 422


def test_dispute_notifications_name_the_charges_customer(pipe: Pipeline) -> None:
    seed(pipe)
    items = pipe.get("/v1/notifications")["data"]
    found = {(n["kind"], n["object_id"]): n for n in items if n["kind"].startswith("dispute_")}
    assert set(found) == {
        ("dispute_closed", "dp_1"),
        ("dispute_opened", "dp_2"),
        ("dispute_opened", "dp_x"),
    }
    # dp_1 came before its charge: its notification could not know the customer yet.
    assert found["dispute_closed", "dp_1"]["stripe_customer_id"] is None
    assert found["dispute_opened", "dp_2"]["stripe_customer_id"] == CUS
    assert found["dispute_opened", "dp_2"]["account_ref"] == ACCT


def test_unknown_account_is_404(client: TestClient) -> None:
    answer = client.get("/v1/accounts/org_missing/disputes", headers=AUTH)
    assert answer.status_code == 404 and answer.json()["error"] == "account_not_found"
