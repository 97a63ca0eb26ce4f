"""The active discount on GET /v1/accounts/{ref} and on the subscription rows, joined with
its coupon and promotion code when the API answers (whatever order their events came in)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from starlette.testclient import TestClient

from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror import factory_customer as fc
from tests.read.support import AUTH, Pipeline

T0 = 1_750_000_000
CUS, ACCT = "cus_disc", "org_disc"
LATER = int(time.time()) + 365 * f.DAY  # an end still ahead whenever the test runs


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


class Events:
    """Events with fresh ids, one second apart."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, event_type: str, obj: dict[str, Any], **kw: Any) -> dict[str, Any]:
        self.n += 1
        return f.event(event_type, obj, T0 + self.n, event_id=f"evt_disc_{self.n:02d}", **kw)


def test_the_account_shows_its_discount_whatever_arrived_first(pipe: Pipeline) -> None:
    ev = Events()
    pipe.deliver(ev("customer.created", f.customer(CUS, account_ref=ACCT)))
    assert pipe.get(f"/v1/accounts/{ACCT}")["discount"] is None

    # The discount (current shape: the coupon by id only) before its coupon and code.
    di = fc.discount("di_1", CUS, "co_1", promotion_code="promo_1", start=T0, end=LATER)
    pipe.deliver(ev("customer.discount.created", di))
    body = pipe.get(f"/v1/accounts/{ACCT}")["discount"]
    assert (body["id"], body["coupon_id"], body["name"], body["percent_off"]) == (
        "di_1",
        "co_1",
        None,
        None,
    )

    pipe.deliver(
        ev("coupon.created", fc.coupon("co_1", name="Launch 20%", percent_off=20.0)),
        ev("promotion_code.created", fc.promotion_code("promo_1", "co_1", code="LAUNCH20")),
    )
    assert pipe.get(f"/v1/accounts/{ACCT}")["discount"] == {
        "id": "di_1",
        "coupon_id": "co_1",
        "name": "Launch 20%",
        "percent_off": 20.0,
        "amount_off": None,
        "duration": "repeating",
        "duration_in_months": 3,
        "promotion_code": "LAUNCH20",
        "subscription_id": None,
        "start": iso(T0),
        "end": iso(LATER),
    }

    pipe.deliver(ev("customer.discount.deleted", di))
    assert pipe.get(f"/v1/accounts/{ACCT}")["discount"] is None


def test_a_pre_2025_discount_brings_its_coupons_terms(pipe: Pipeline) -> None:
    ev = Events()
    coupon = fc.coupon("co_10", percent_off=None, amount_off=1000, currency="eur", duration="once")
    di = fc.discount("di_old", CUS, "co_10", shape=ApiShape.LEGACY, coupon_obj=coupon)
    pipe.deliver(
        ev("customer.created", f.customer(CUS, account_ref=ACCT)),
        ev("customer.discount.created", di, shape=ApiShape.LEGACY),
    )
    body = pipe.get(f"/v1/accounts/{ACCT}")["discount"]
    assert (body["name"], body["amount_off"], body["percent_off"], body["duration"]) == (
        "Launch 20%",
        {"amount": 1000, "currency": "eur"},
        None,
        "once",
    )


def test_an_ended_discount_is_not_shown(pipe: Pipeline) -> None:
    ev = Events()
    pipe.deliver(
        ev("customer.created", f.customer(CUS, account_ref=ACCT)),
        ev("customer.discount.created", fc.discount("di_end", CUS, "co_1", end=T0 + 30)),
    )
    assert pipe.get(f"/v1/accounts/{ACCT}")["discount"] is None


def test_subscriptions_show_their_own_discount_else_the_customers(pipe: Pipeline) -> None:
    ev = Events()
    pipe.deliver(
        ev("customer.created", f.customer(CUS, account_ref=ACCT)),
        ev("customer.subscription.created", f.subscription("sub_own", CUS, "active")),
        ev("customer.subscription.created", f.subscription("sub_plain", CUS, "active")),
        ev("coupon.created", fc.coupon("co_sub", name="Team 10%", percent_off=10.0)),
        ev("coupon.created", fc.coupon("co_all", name="Loyal 5%", percent_off=5.0)),
        ev(
            "customer.discount.created",
            fc.discount("di_sub", CUS, "co_sub", subscription="sub_own"),
        ),
    )
    found = {s["id"]: s["discount"] for s in pipe.get(f"/v1/accounts/{ACCT}/subscriptions")["data"]}
    assert found["sub_plain"] is None
    assert (found["sub_own"]["id"], found["sub_own"]["name"]) == ("di_sub", "Team 10%")
    # A subscription's discount is not the account's own.
    assert pipe.get(f"/v1/accounts/{ACCT}")["discount"] is None

    pipe.deliver(ev("customer.discount.created", fc.discount("di_all", CUS, "co_all")))
    found = {s["id"]: s["discount"] for s in pipe.get(f"/v1/accounts/{ACCT}/subscriptions")["data"]}
    assert found["sub_own"]["id"] == "di_sub"  # its own wins over the customer's
    assert (found["sub_plain"]["id"], found["sub_plain"]["percent_off"]) == ("di_all", 5.0)
    assert pipe.get(f"/v1/accounts/{ACCT}")["discount"]["id"] == "di_all"


def test_another_customers_discount_is_never_shown(pipe: Pipeline) -> None:
    ev = Events()
    pipe.deliver(
        ev("customer.created", f.customer(CUS, account_ref=ACCT)),
        ev("customer.discount.created", fc.discount("di_other", "cus_other", "co_1")),
    )
    assert pipe.get(f"/v1/accounts/{ACCT}")["discount"] is None


def test_unknown_account_is_404(client: TestClient) -> None:
    for path in ("/v1/accounts/org_missing", "/v1/accounts/org_missing/subscriptions"):
        answer = client.get(path, headers=AUTH)
        assert answer.status_code == 404 and answer.json()["error"] == "account_not_found"


def test_the_openapi_schemas_have_the_discount(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert "discount" in schemas["AccountOut"]["properties"]
    assert "discount" in schemas["SubscriptionOut"]["properties"]
    discount = schemas["DiscountOut"]["properties"]
    assert {"name", "percent_off", "amount_off", "duration", "end", "promotion_code"} <= set(
        discount
    )
