"""GET /v1/accounts/{account_ref}/setup-intents: newest first, ?status=, failures' errors."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.mirror import factory as f
from tests.mirror import factory_sources as fs
from tests.read.support import AUTH, Pipeline

T0 = 1_730_000_000
ACCT, CUS = "org_seti", "cus_seti_read"


def seed(pipe: Pipeline) -> None:
    """An older setup intent that succeeded; a newer one that failed, then one of another
    customer."""
    pipe.deliver(
        f.event("customer.created", f.customer(CUS, account_ref=ACCT), T0),
        f.event(
            "setup_intent.succeeded",
            fs.setup_intent("seti_old", CUS, "succeeded", payment_method="pm_ok", created=T0),
            T0 + 1,
        ),
        f.event(
            "setup_intent.setup_failed",
            fs.setup_intent(
                "seti_new",
                CUS,
                "requires_payment_method",
                payment_method="pm_bad",
                error="card_declined",
                decline_code="generic_decline",
                created=T0 + 5,
            ),
            T0 + 6,
        ),
        f.event(
            "setup_intent.succeeded",
            fs.setup_intent("seti_other", "cus_other", "succeeded", created=T0 + 7),
            T0 + 8,
        ),
    )


def test_setup_intents_newest_first_with_the_failures_error(pipe: Pipeline) -> None:
    seed(pipe)
    data = pipe.get(f"/v1/accounts/{ACCT}/setup-intents")["data"]
    assert [s["id"] for s in data] == ["seti_new", "seti_old"]
    failed, ok = data
    assert (failed["status"], failed["payment_method_id"], failed["error_code"]) == (
        "requires_payment_method",
        "pm_bad",
        "card_declined",
    )
    assert failed["error_decline_code"] == "generic_decline"
    assert (ok["status"], ok["payment_method_id"], ok["error_code"]) == ("succeeded", "pm_ok", None)
    assert "raw" not in ok and "stripe_customer_id" not in ok
    only = pipe.get(f"/v1/accounts/{ACCT}/setup-intents", status="succeeded")["data"]
    assert [s["id"] for s in only] == ["seti_old"]


def test_pages_chain_by_cursor(pipe: Pipeline) -> None:
    seed(pipe)
    first = pipe.get(f"/v1/accounts/{ACCT}/setup-intents", limit=1)
    assert [s["id"] for s in first["data"]] == ["seti_new"] and first["has_more"] is True
    second = pipe.get(f"/v1/accounts/{ACCT}/setup-intents", limit=1, cursor=first["next_cursor"])
    assert [s["id"] for s in second["data"]] == ["seti_old"] and second["has_more"] is False


def test_a_failed_setup_intent_that_succeeds_later_shows_success(pipe: Pipeline) -> None:
    seed(pipe)
    pipe.deliver(
        f.event(
            "setup_intent.succeeded",
            fs.setup_intent("seti_new", CUS, "succeeded", payment_method="pm_2", created=T0 + 5),
            T0 + 20,
        )
    )
    data = pipe.get(f"/v1/accounts/{ACCT}/setup-intents")["data"]
    assert (data[0]["id"], data[0]["status"], data[0]["error_code"]) == (
        "seti_new",
        "succeeded",
        None,
    )


def test_unknown_account_and_unknown_status(client: TestClient) -> None:
    assert client.get("/v1/accounts/org_none/setup-intents", headers=AUTH).status_code == 404
    answer = client.get(
        f"/v1/accounts/{ACCT}/setup-intents", params={"status": "lost"}, headers=AUTH
    )
    assert answer.status_code in (400, 422)
