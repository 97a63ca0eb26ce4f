"""Legacy cards and sources in the payment methods listing, and each method's mandate."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.mirror import factory as f
from tests.mirror import factory_sources as fs
from tests.read.support import AUTH, Pipeline

T0 = 1_730_000_000
ACCT, CUS = "org_src", "cus_src_read"


def seed(pipe: Pipeline) -> None:
    """A customer whose default is a legacy card, with a SEPA source and a SEPA method."""
    pipe.deliver(
        f.event("customer.created", f.customer(CUS, account_ref=ACCT, default_pm="card_old"), T0),
        f.event("customer.source.created", fs.card("card_old", CUS), T0 + 1),
        f.event("customer.source.created", fs.source("src_sepa", CUS, kind="sepa_debit"), T0 + 1),
        f.event(
            "payment_method.attached", f.payment_method("pm_sepa", CUS, kind="sepa_debit"), T0 + 2
        ),
        f.event("mandate.updated", fs.mandate("mandate_old", "pm_sepa", "inactive"), T0 + 3),
        f.event(
            "mandate.updated",
            fs.mandate("mandate_new", "pm_sepa", "active", accepted_at=T0 + 3, reference="R2"),
            T0 + 4,
        ),
    )


def listing(pipe: Pipeline, **params: str) -> list[dict[str, object]]:
    data = pipe.get(f"/v1/accounts/{ACCT}/payment-methods", **params)["data"]
    assert isinstance(data, list)
    return data


def test_cards_and_sources_are_listed_as_payment_methods(pipe: Pipeline) -> None:
    seed(pipe)
    methods = {m["id"]: m for m in listing(pipe)}
    assert list(methods) == ["card_old", "pm_sepa", "src_sepa"]  # the default first
    card = methods["card_old"]
    assert (card["type"], card["source"], card["is_default"], card["status"]) == (
        "card",
        True,
        True,
        "attached",
    )
    assert (card["card_brand"], card["card_last4"], card["card_exp_month"]) == ("visa", "4242", 8)
    assert card["card_exp_year"] == 2030
    assert "name" not in card and "address_line1" not in card
    sepa_source = methods["src_sepa"]
    assert (sepa_source["type"], sepa_source["source"], sepa_source["bank_last4"]) == (
        "sepa_debit",
        True,
        "3000",
    )
    assert methods["pm_sepa"]["source"] is False


def test_each_payment_method_shows_its_newest_mandate(pipe: Pipeline) -> None:
    seed(pipe)
    methods = {m["id"]: m for m in listing(pipe)}
    assert methods["pm_sepa"]["mandate"] == {
        "id": "mandate_new",
        "status": "active",
        "type": "multi_use",
        "reference": "R2",
    }
    assert methods["card_old"]["mandate"] is None
    pipe.deliver(
        f.event(
            "mandate.updated",
            fs.mandate("mandate_new", "pm_sepa", "inactive", accepted_at=T0 + 3, reference="R2"),
            T0 + 9,
        )
    )
    mandate = {m["id"]: m for m in listing(pipe)}["pm_sepa"]["mandate"]
    assert isinstance(mandate, dict) and mandate["status"] == "inactive"


def test_a_deleted_source_leaves_the_listing_like_a_detached_method(pipe: Pipeline) -> None:
    seed(pipe)
    pipe.deliver(f.event("customer.source.deleted", fs.card("card_old", CUS), T0 + 10))
    assert [m["id"] for m in listing(pipe)] == ["pm_sepa", "src_sepa"]
    gone = listing(pipe, status="detached")
    assert [(m["id"], m["status"], m["is_default"]) for m in gone] == [
        ("card_old", "detached", False)
    ]
    # The customer still names it as default: a detached card stays unflagged.
    pipe.deliver(
        f.event(
            "customer.updated", f.customer(CUS, account_ref=ACCT, default_pm="card_old"), T0 + 11
        )
    )
    assert [m["is_default"] for m in listing(pipe, status="detached")] == [False]


def test_a_legacy_default_source_is_the_default_without_a_default_method(
    pipe: Pipeline,
) -> None:
    seed(pipe)
    legacy = f.customer(CUS, account_ref=ACCT)  # no invoice_settings.default_payment_method
    legacy["default_source"] = "src_sepa"
    pipe.deliver(f.event("customer.updated", legacy, T0 + 12))
    first, *rest = listing(pipe)
    assert (first["id"], first["is_default"]) == ("src_sepa", True)
    assert not any(m["is_default"] for m in rest)
    # A source saved after the customer event finds the same rule.
    pipe.deliver(
        f.event("customer.source.updated", fs.source("src_sepa", CUS, kind="sepa_debit"), T0 + 13)
    )
    assert {m["id"]: m["is_default"] for m in listing(pipe)}["src_sepa"] is True
    # A default payment method takes precedence.
    both = f.customer(CUS, account_ref=ACCT, default_pm="pm_sepa")
    both["default_source"] = "src_sepa"
    pipe.deliver(f.event("customer.updated", both, T0 + 14))
    assert [m["id"] for m in listing(pipe) if m["is_default"]] == ["pm_sepa"]


def test_unknown_account_is_404(client: TestClient) -> None:
    answer = client.get("/v1/accounts/org_nobody/payment-methods", headers=AUTH)
    assert answer.status_code == 404


def test_the_openapi_schema_shows_source_and_mandate(client: TestClient) -> None:
    schema = client.get("/openapi.json", headers=AUTH).json()
    fields = schema["components"]["schemas"]["PaymentMethodOut"]["properties"]
    assert {"source", "mandate"} <= set(fields)
