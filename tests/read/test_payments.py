"""GET /v1/accounts/{ref}/payments end to end: webhooks in, the real processor, JSON out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from domain.mirror.stripe_json import ApiShape
from domain.settings import Settings
from tests.mirror import factory as f
from tests.mirror import factory_payments as p
from tests.read.support import AUTH, Pipeline, app_client, app_settings
from workers.runtime import Runtime

T0 = 1_730_000_000
ACCT, CUS = "org_pay", "cus_pay_read"
LEGACY = ApiShape.LEGACY
PATH = f"/v1/accounts/{ACCT}/payments"


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    yield from app_client(app_settings())


@pytest.fixture
def pipe(client: TestClient, runtime: Runtime) -> Pipeline:
    return Pipeline(client, runtime)


def seed(pipe: Pipeline) -> None:
    """A current-shape paid intent (linked to its invoice by an invoice payment, partly
    refunded), a pre-2025 failed intent naming its invoice, a legacy direct charge, and
    another customer's payment."""
    pipe.deliver(f.event("customer.created", f.customer(CUS, account_ref=ACCT), T0))
    # The link and the charge arrive before the intent: the body must not care.
    pipe.deliver(
        f.event(
            "invoice_payment.paid",
            p.invoice_payment("inpay_1", "in_1", payment_intent="pi_1", created=T0 + 10),
            T0 + 12,
        ),
        f.event(
            "charge.succeeded",
            p.charge("ch_1", CUS, payment_intent="pi_1", amount_refunded=500, created=T0 + 10),
            T0 + 11,
        ),
        f.event(
            "payment_intent.succeeded",
            p.payment_intent("pi_1", CUS, "succeeded", latest_charge="ch_1", created=T0 + 10),
            T0 + 11,
        ),
    )
    failed = p.payment_intent(
        "pi_2",
        CUS,
        "requires_payment_method",
        shape=LEGACY,
        invoice="in_2",
        error=p.card_error(),
        created=T0 + 20,
    )
    pipe.deliver(
        f.event("payment_intent.payment_failed", failed, T0 + 21, shape=LEGACY),
        f.event(
            "charge.failed",
            p.charge(
                "ch_2",
                CUS,
                "failed",
                shape=LEGACY,
                payment_intent="pi_2",
                invoice="in_2",
                failure=("card_declined", "Your card was declined."),
                created=T0 + 20,
            ),
            T0 + 21,
            shape=LEGACY,
        ),
        f.event(
            "charge.succeeded",
            p.charge("ch_3", CUS, shape=LEGACY, invoice="in_3", amount=1500, created=T0 + 30),
            T0 + 31,
            shape=LEGACY,
        ),
        f.event(
            "payment_intent.succeeded",
            p.payment_intent("pi_other", "cus_someone_else", "succeeded", created=T0 + 40),
            T0 + 41,
        ),
    )


def test_payments_newest_first_with_their_charges_and_invoices(pipe: Pipeline) -> None:
    seed(pipe)
    body = pipe.get(PATH)
    assert (body["has_more"], body["next_cursor"]) == (False, None)
    direct, failed, paid = body["data"]
    assert paid == {
        "id": "pi_1",
        "object": "payment_intent",
        "status": "succeeded",
        "amount": {"amount": 2900, "currency": "eur"},
        "failure_code": None,
        "failure_message": None,
        "latest_charge_id": "ch_1",
        "canceled_at": None,
        "cancellation_reason": None,
        "created": iso(T0 + 10),
        "invoice_id": "in_1",  # through the invoice payment (API 2025-03-31)
        "payment_method_type": "card",
        "charge_id": "ch_1",
        "receipt_url": "https://pay.stripe.com/receipts/ch_1",
        "dispute_status": None,
        "amount_refunded": 500,
    }
    assert (failed["id"], failed["status"], failed["invoice_id"]) == (
        "pi_2",
        "requires_payment_method",
        "in_2",  # named by the intent itself (pre-2025)
    )
    assert (failed["failure_code"], failed["failure_message"]) == (
        "card_declined",
        "Your card was declined.",
    )
    assert (failed["charge_id"], failed["amount_refunded"]) == ("ch_2", 0)
    assert (direct["id"], direct["object"], direct["status"], direct["invoice_id"]) == (
        "ch_3",
        "charge",
        "succeeded",
        "in_3",
    )
    assert direct["amount"] == {"amount": 1500, "currency": "eur"}
    assert direct["receipt_url"] == "https://pay.stripe.com/receipts/ch_3"


def test_no_card_holder_data_in_the_body(pipe: Pipeline) -> None:
    seed(pipe)
    text = pipe.client.get(PATH, headers=AUTH).text
    assert "Jenny" not in text and "example.com" not in text and "4242" not in text


def test_status_filter_and_pagination(pipe: Pipeline) -> None:
    seed(pipe)
    succeeded = pipe.get(PATH, status="succeeded")["data"]
    assert [x["id"] for x in succeeded] == ["ch_3", "pi_1"]
    walked, cursor = [], None
    while True:
        page = pipe.get(PATH, limit=1, **({"cursor": cursor} if cursor else {}))
        walked += [x["id"] for x in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == ["ch_3", "pi_2", "pi_1"]
    assert pipe.client.get(PATH, params={"status": "paid"}, headers=AUTH).status_code == 422


def test_a_payment_without_charges_shows_defaults(pipe: Pipeline) -> None:
    pipe.deliver(
        f.event("customer.created", f.customer(CUS, account_ref=ACCT), T0),
        f.event("payment_intent.processing", p.payment_intent("pi_9", CUS, "processing"), T0),
    )
    [row] = pipe.get(PATH)["data"]
    assert (row["charge_id"], row["receipt_url"], row["invoice_id"]) == (None, None, None)
    assert (row["amount_refunded"], row["payment_method_type"]) == (0, "card")


def test_unknown_account_is_404(client: TestClient) -> None:
    answer = client.get("/v1/accounts/org_missing/payments", headers=AUTH)
    assert answer.status_code == 404 and answer.json()["error"] == "account_not_found"


def test_openapi_documents_the_payment_body(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert "/v1/accounts/{account_ref}/payments" in doc["paths"]
    fields = doc["components"]["schemas"]["PaymentOut"]["properties"]
    assert {"invoice_id", "receipt_url", "amount_refunded", "charge_id"} <= set(fields)
    assert "raw" not in fields and "stripe_customer_id" not in fields
