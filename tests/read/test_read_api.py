"""The read API end to end: signed webhooks in, through the real processor, JSON out."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from tests.mirror import factory as f
from tests.read.support import AUTH, OPS_ONLY_TOKEN, Pipeline

T0 = 1_730_000_000
ACCT, CUS, SUB, OLD_SUB = "org_42", "cus_read", "sub_read", "sub_read_old"
PERIOD = (T0, T0 + 30 * f.DAY)
INVOICES = 25


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def seed(pipe: Pipeline) -> None:
    """A Dutch business on pro monthly with a card and a SEPA mandate, 25 invoices, one
    canceled older subscription."""
    pipe.deliver(
        f.event("customer.created", f.customer(CUS, account_ref=ACCT, default_pm="pm_card"), T0),
        f.event("payment_method.attached", f.payment_method("pm_card", CUS), T0 + 1),
        f.event(
            "payment_method.attached", f.payment_method("pm_sepa", CUS, kind="sepa_debit"), T0 + 1
        ),
        f.event(
            "customer.subscription.deleted",
            f.subscription(OLD_SUB, CUS, "canceled", period=(T0 - 90 * f.DAY, T0 - 60 * f.DAY)),
            T0 - 59 * f.DAY,
        ),
        f.event(
            "customer.subscription.created",
            f.subscription(SUB, CUS, "active", period=PERIOD, default_payment_method="pm_card"),
            T0 + 2,
        ),
    )
    for n in range(INVOICES):
        # Every fifth one still open; amounts differ so a mix-up would show.
        status = "open" if n % 5 == 0 else "paid"
        kind = "invoice.finalized" if status == "open" else "invoice.paid"
        inv = f.invoice(f"in_{n:02d}", CUS, SUB, status, amount=1000 + n, created=T0 + n * 3600)
        pipe.deliver(f.event(kind, inv, T0 + n * 3600 + 60))


def test_account_status_and_customer_details(pipe: Pipeline) -> None:
    seed(pipe)
    body = pipe.get(f"/v1/accounts/{ACCT}")
    assert body["account_ref"] == ACCT
    assert body["billing"] == {
        "subscription_id": SUB,
        "plan_tier": "pro",
        "plan_interval": "month",
        "status": "active",
        "entitled": True,
        "in_grace_period": False,
        "grace_until": None,
        "current_period_end": iso(PERIOD[1]).replace("+00:00", "Z"),
        "cancel_at_period_end": False,
        "default_payment_method": {
            "id": "pm_card",
            "type": "card",
            "brand": "visa",
            "last4": "4242",
            "exp_month": 8,
            "exp_year": 2030,
        },
    }
    assert body["customer"] == {
        "stripe_customer_id": CUS,
        "email": "billing@example.nl",
        "name": "Jan Jansen",
        "company_name": "Jansen BV",
        "vat_number": "NL123456789B01",
        "kvk_number": "12345678",
        "address": {
            "line1": "Damrak 1",
            "line2": None,
            "postal_code": "1012 LG",
            "city": "Amsterdam",
            "state": None,
            "country": "NL",
        },
        "country": "NL",
        "currency": "eur",
        "deleted": False,
    }
    assert "raw" not in str(body) and "metadata" not in body["customer"]


def test_subscriptions_newest_first_with_status_filter(pipe: Pipeline) -> None:
    seed(pipe)
    subs = pipe.get(f"/v1/accounts/{ACCT}/subscriptions")
    assert [s["id"] for s in subs["data"]] == [SUB, OLD_SUB]
    assert (subs["has_more"], subs["next_cursor"]) == (False, None)
    current = subs["data"][0]
    assert current["unit_amount"] == {"amount": 2900, "currency": "eur"}
    assert current["items"] == [
        {
            "id": f"si_{SUB}",
            "price_id": "price_pro_month",
            "plan_tier": "pro",
            "plan_interval": "month",
            "quantity": 1,
            "unit_amount": {"amount": 2900, "currency": "eur"},
        }
    ]
    canceled = pipe.get(f"/v1/accounts/{ACCT}/subscriptions", status="canceled")
    assert [s["id"] for s in canceled["data"]] == [OLD_SUB]
    assert canceled["data"][0]["canceled_at"] is not None
    assert pipe.get(f"/v1/accounts/{ACCT}/subscriptions", status="past_due")["data"] == []


def test_invoices_paginate_newest_first_without_gaps(pipe: Pipeline) -> None:
    seed(pipe)
    first = pipe.get(f"/v1/accounts/{ACCT}/invoices")
    assert len(first["data"]) == 20 and first["has_more"] is True
    assert first["data"][0]["id"] == "in_24"
    second = pipe.get(f"/v1/accounts/{ACCT}/invoices", cursor=first["next_cursor"])
    assert (len(second["data"]), second["has_more"], second["next_cursor"]) == (5, False, None)
    ids = [i["id"] for i in first["data"] + second["data"]]
    assert ids == [f"in_{n:02d}" for n in reversed(range(INVOICES))]

    newest = first["data"][0]
    assert newest["status"] == "paid" and newest["number"] == "NR-in_24"
    assert (newest["amount_due"], newest["amount_paid"], newest["currency"]) == (1024, 1024, "eur")
    assert newest["hosted_invoice_url"] == "https://invoice.stripe.com/i/in_24"
    assert newest["subscription_id"] == SUB

    small = pipe.get(f"/v1/accounts/{ACCT}/invoices", limit=7, status="open")
    assert [i["id"] for i in small["data"]] == ["in_20", "in_15", "in_10", "in_05", "in_00"]
    assert all(i["amount_paid"] == 0 and i["amount_remaining"] > 0 for i in small["data"])
    walked, cursor = [], None
    while True:
        page = pipe.get(
            f"/v1/accounts/{ACCT}/invoices",
            limit=2,
            status="open",
            **({"cursor": cursor} if cursor else {}),
        )
        walked += [i["id"] for i in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == ["in_20", "in_15", "in_10", "in_05", "in_00"]


def test_payment_methods_attached_by_default_then_detached(pipe: Pipeline) -> None:
    seed(pipe)
    methods = pipe.get(f"/v1/accounts/{ACCT}/payment-methods")["data"]
    assert [m["id"] for m in methods] == ["pm_card", "pm_sepa"]
    card, sepa = methods
    assert (card["card_brand"], card["card_last4"], card["card_exp_year"]) == ("visa", "4242", 2030)
    assert (sepa["type"], sepa["bank_code"], sepa["bank_last4"]) == ("sepa_debit", "INGB", "3000")
    assert sepa["card_last4"] is None

    detached = f.payment_method("pm_sepa", None, kind="sepa_debit")
    pipe.deliver(f.event("payment_method.detached", detached, T0 + 5, previous={"customer": CUS}))
    assert [m["id"] for m in pipe.get(f"/v1/accounts/{ACCT}/payment-methods")["data"]] == [
        "pm_card"
    ]
    gone = pipe.get(f"/v1/accounts/{ACCT}/payment-methods", status="detached")["data"]
    assert [(m["id"], m["status"]) for m in gone] == [("pm_sepa", "detached")]


def test_past_due_account_stays_entitled_during_grace(pipe: Pipeline) -> None:
    now = int(time.time())
    period = (now - 10 * f.DAY, now + 20 * f.DAY)
    failed_at = now - 2 * f.DAY
    pipe.deliver(
        f.event("customer.created", f.customer("cus_due", account_ref="org_due"), now - 30 * f.DAY),
        f.event(
            "customer.subscription.updated",
            f.subscription("sub_due", "cus_due", "past_due", period=period),
            failed_at,
            previous={"status": "active"},
        ),
        f.event(
            "invoice.payment_failed",
            f.invoice("in_due", "cus_due", "sub_due", "open", attempt_count=1, created=failed_at),
            failed_at,
        ),
    )
    billing = pipe.get("/v1/accounts/org_due")["billing"]
    assert (billing["status"], billing["entitled"], billing["in_grace_period"]) == (
        "past_due",
        True,
        True,
    )
    assert billing["grace_until"] == iso(failed_at + 7 * f.DAY).replace("+00:00", "Z")


def test_account_known_only_from_checkout_has_no_details_yet(pipe: Pipeline) -> None:
    # A checkout links the account before any customer or subscription event arrives.
    pipe.deliver(
        f.event("checkout.session.completed", f.checkout("cs_x", "org_new", "cus_new", None), T0)
    )
    body = pipe.get("/v1/accounts/org_new")
    assert body["billing"]["entitled"] is False and body["billing"]["status"] is None
    assert body["customer"]["stripe_customer_id"] == "cus_new"
    assert body["customer"]["kvk_number"] is None  # only customer events carry it
    assert pipe.get("/v1/accounts/org_new/invoices") == {
        "data": [],
        "has_more": False,
        "next_cursor": None,
    }


@pytest.mark.parametrize(
    "path", ["", "/subscriptions", "/invoices", "/payment-methods"], ids=lambda p: p or "/"
)
def test_unknown_account_is_404_json(client: TestClient, path: str) -> None:
    answer = client.get(f"/v1/accounts/org_missing{path}", headers=AUTH)
    assert answer.status_code == 404
    assert answer.json()["error"] == "account_not_found"
    assert "org_missing" not in answer.json()["message"]  # the product's id is not echoed


@pytest.mark.parametrize(
    "path",
    ["/v1/accounts/org_42", "/v1/accounts/org_42/invoices", "/v1/notifications"],
)
def test_read_scope_is_required(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    bad = client.get(path, headers={"Authorization": "Bearer not-a-real-token-000000"})
    assert bad.status_code == 401 and bad.json()["error"] == "unauthorized"
    wrong = client.get(path, headers={"Authorization": f"Bearer {OPS_ONLY_TOKEN}"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "forbidden"
    assert OPS_ONLY_TOKEN not in wrong.text


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/v1/accounts/org_42/invoices", {"limit": "0"}, "limit"),
        ("/v1/accounts/org_42/invoices", {"limit": "101"}, "limit"),
        ("/v1/accounts/org_42/invoices", {"limit": "ten"}, "limit"),
        ("/v1/accounts/org_42/invoices", {"status": "settled"}, "status"),
        ("/v1/accounts/org_42/invoices", {"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        ("/v1/accounts/org_42/subscriptions", {"status": "alive"}, "status"),
        ("/v1/accounts/org_42/subscriptions", {"starting_after": "sub_1"}, "starting_after"),
        ("/v1/accounts/org_42/payment-methods", {"status": "lost"}, "status"),
        ("/v1/notifications", {"after": "-1"}, "after"),
        ("/v1/notifications", {"limit": "500"}, "limit"),
    ],
)
def test_invalid_parameters_are_422_with_field_errors(
    pipe: Pipeline, path: str, params: dict[str, str], field: str
) -> None:
    pipe.deliver(f.event("customer.created", f.customer(CUS, account_ref=ACCT), T0))
    answer = pipe.client.get(path, params=params, headers=AUTH)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "invalid_request"
    assert [e["field"] for e in body["fields"]] == [field]
    assert body["fields"][0]["message"]


def test_openapi_lists_every_read_path(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    expected = {
        "/v1/accounts/{account_ref}",
        "/v1/accounts/{account_ref}/subscriptions",
        "/v1/accounts/{account_ref}/invoices",
        "/v1/accounts/{account_ref}/payment-methods",
        "/v1/notifications",
    }
    assert expected <= set(doc["paths"])
    for path in expected:
        op = doc["paths"][path]["get"]
        assert op["security"] == [{"bearer": ["read"]}]
        assert {"200", "401", "403"} <= set(op["responses"])
    invoices = doc["paths"]["/v1/accounts/{account_ref}/invoices"]["get"]
    assert {p["name"] for p in invoices["parameters"]} == {
        "account_ref",
        "status",
        "limit",
        "cursor",
    }
    assert "422" in invoices["responses"] and "404" in invoices["responses"]
    schemas = doc["components"]["schemas"]
    assert {"entitled", "grace_until", "plan_tier"} <= set(schemas["BillingOut"]["properties"])
    assert "raw" not in schemas["InvoiceOut"]["properties"]
