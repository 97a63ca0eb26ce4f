"""GET /v1/accounts/{ref} shows the account's VAT id and Stripe's verification of it."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.mirror import factory as f
from tests.mirror import factory_customer as fc
from tests.read.support import AUTH, Pipeline

T0 = 1_750_000_000
CUS, ACCT = "cus_vat", "org_vat"
NAME, ADDRESS = "JANSEN B.V.", "DAMRAK 00001\n1012LG AMSTERDAM"


def tax_event(event_type: str, at: int, n: int, **kw: Any) -> dict[str, Any]:
    txi = kw.pop("txi", "txi_nl")
    return f.event(
        f"customer.tax_id.{event_type}", fc.tax_id(txi, CUS, **kw), at, event_id=f"evt_vat_{n:02d}"
    )


def test_the_account_shows_its_verified_vat_id(pipe: Pipeline) -> None:
    pipe.deliver(f.event("customer.created", f.customer(CUS, account_ref=ACCT), T0))
    assert pipe.get(f"/v1/accounts/{ACCT}")["tax_id"] is None

    pipe.deliver(tax_event("created", T0 + 1, 1, created=T0 + 1))
    assert pipe.get(f"/v1/accounts/{ACCT}")["tax_id"]["verification_status"] == "pending"

    verified = {"status": "verified", "verified_name": NAME, "verified_address": ADDRESS}
    pipe.deliver(tax_event("updated", T0 + 30, 2, created=T0 + 1, **verified))
    body = pipe.get(f"/v1/accounts/{ACCT}")
    assert body["tax_id"] == {
        "id": "txi_nl",
        "type": "eu_vat",
        "value": "NL123456789B01",
        "country": "NL",
        "verification_status": "verified",
        "verified_name": NAME,
        "verified_address": ADDRESS,
        "created": "2025-06-15T15:06:41Z",
    }
    # The product's own record (customer metadata) stays as the customer event wrote it.
    assert body["customer"]["vat_number"] == "NL123456789B01"


def test_eu_vat_is_preferred_then_the_newest_and_deleted_ones_disappear(pipe: Pipeline) -> None:
    pipe.deliver(
        f.event("customer.created", f.customer(CUS, account_ref=ACCT), T0),
        tax_event("created", T0 + 1, 1, txi="txi_old", created=T0 + 1, status="verified"),
        tax_event("created", T0 + 2, 2, txi="txi_gb", type="gb_vat", country="GB", created=T0 + 9),
        tax_event("created", T0 + 3, 3, txi="txi_new", value="NL000099998B57", created=T0 + 3),
    )
    assert pipe.get(f"/v1/accounts/{ACCT}")["tax_id"]["id"] == "txi_new"
    pipe.deliver(tax_event("deleted", T0 + 4, 4, txi="txi_new", created=T0 + 3))
    assert pipe.get(f"/v1/accounts/{ACCT}")["tax_id"]["id"] == "txi_old"
    pipe.deliver(tax_event("deleted", T0 + 5, 5, txi="txi_old", created=T0 + 1))
    assert pipe.get(f"/v1/accounts/{ACCT}")["tax_id"]["id"] == "txi_gb"


def test_another_customers_tax_id_is_never_shown(pipe: Pipeline) -> None:
    pipe.deliver(f.event("customer.created", f.customer(CUS, account_ref=ACCT), T0))
    other = fc.tax_id("txi_other", "cus_other")
    pipe.deliver(f.event("customer.tax_id.created", other, T0 + 1, event_id="evt_vat_other"))
    assert pipe.get(f"/v1/accounts/{ACCT}")["tax_id"] is None


def test_unknown_account_is_404(client: TestClient) -> None:
    answer = client.get("/v1/accounts/org_missing", headers=AUTH)
    assert answer.status_code == 404 and answer.json()["error"] == "account_not_found"


def test_the_openapi_schema_has_the_tax_id(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    account = schemas["AccountOut"]["properties"]
    assert "tax_id" in account and "Stripe" in account["tax_id"]["description"]
    tax_id = schemas["TaxIdOut"]["properties"]
    assert {"verification_status", "verified_name", "verified_address"} <= set(tax_id)
    assert "deleted" not in tax_id and "raw" not in tax_id
