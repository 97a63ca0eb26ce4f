"""Every handled event type, in both API shapes, through the real processor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.mirror.families import REGISTRY
from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror.support import apply, one, rows
from tests.mirror.test_stripe_examples import ISSUE_TYPES
from workers.runtime import Runtime

T0 = 1_700_000_000
PERIOD = (T0, T0 + 30 * f.DAY)
CUS, SUB, ACCT = "cus_types", "sub_types", "acct_types"

SUBSCRIPTION_CASES = {
    "customer.subscription.created": "active",
    "customer.subscription.updated": "past_due",
    "customer.subscription.deleted": "canceled",
    "customer.subscription.paused": "paused",
    "customer.subscription.resumed": "active",
    "customer.subscription.trial_will_end": "trialing",
}
INVOICE_CASES = {
    "invoice.created": ("draft", 0),
    "invoice.finalized": ("open", 0),
    "invoice.paid": ("paid", 1),
    "invoice.payment_succeeded": ("paid", 1),
    "invoice.payment_failed": ("open", 1),
    "invoice.payment_action_required": ("open", 1),
    "invoice.voided": ("void", 0),
    "invoice.marked_uncollectible": ("uncollectible", 4),
}
NOTIFIED = {
    "customer.subscription.created": {"subscription_activated"},
    "customer.subscription.deleted": {"subscription_canceled"},
    "customer.subscription.resumed": {"subscription_activated"},
    "customer.subscription.trial_will_end": {"trial_will_end"},
    "invoice.payment_failed": {"payment_failed"},
    "invoice.payment_action_required": {"payment_action_required"},
    "checkout.session.async_payment_failed": {"checkout_async_payment_failed"},
}


def kinds(rt: Runtime) -> set[str]:
    return {r["kind"] for r in rows(rt.engine, "SELECT kind FROM notifications")}


def test_dispatch_table_covers_the_issue() -> None:
    expected = (
        set(SUBSCRIPTION_CASES)
        | set(INVOICE_CASES)
        | {"invoice.upcoming"}
        | {f"payment_method.{t}" for t in ("attached", "detached", "updated")}
        | {"payment_method.automatically_updated"}
        | {f"checkout.session.{t}" for t in ("completed", "expired")}
        | {f"checkout.session.async_payment_{t}" for t in ("succeeded", "failed")}
        | {"customer.created", "customer.updated", "customer.deleted"}
        | set(ISSUE_TYPES)  # issue 11's table
        | {"billing.credit_grant.created", "billing.credit_grant.updated"}  # issue 12
    )
    assert set(REGISTRY) == expected


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", sorted(SUBSCRIPTION_CASES))
def test_subscription_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    status = SUBSCRIPTION_CASES[event_type]
    obj = f.subscription(SUB, CUS, status, shape=shape, period=PERIOD, price_id="price_pro_year")
    apply(runtime, f.event(event_type, obj, T0 + 5, shape=shape))

    row = one(runtime.engine, "SELECT * FROM subscriptions WHERE id = :i", i=SUB)
    assert row["status"] == status
    assert (row["plan_tier"], row["plan_interval"]) == ("pro", "year")
    assert row["unit_amount"] == 29000 and row["currency"] == "eur"
    assert row["current_period_start"] == datetime.fromtimestamp(PERIOD[0], UTC)
    assert row["current_period_end"] == datetime.fromtimestamp(PERIOD[1], UTC)
    assert row["stripe_customer_id"] == CUS
    assert (row["last_event_created"], row["raw"]["id"]) == (T0 + 5, SUB)
    items = rows(
        runtime.engine, "SELECT * FROM subscription_items WHERE subscription_id = :s", s=SUB
    )
    assert [(i["price_id"], i["plan_tier"]) for i in items] == [("price_pro_year", "pro")]
    assert kinds(runtime) == NOTIFIED.get(event_type, set())


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", sorted(INVOICE_CASES))
def test_invoice_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    status, attempts = INVOICE_CASES[event_type]
    obj = f.invoice("in_types", CUS, SUB, status, shape=shape, attempt_count=attempts, created=T0)
    apply(runtime, f.event(event_type, obj, T0 + 5, shape=shape))

    row = one(runtime.engine, "SELECT * FROM invoices WHERE id = 'in_types'")
    assert row["status"] == status
    assert row["subscription_id"] == SUB  # from `parent` (current) or top level (pre-2025)
    assert (row["amount_due"], row["currency"], row["attempt_count"]) == (2900, "eur", attempts)
    assert row["amount_paid"] == (2900 if status == "paid" else 0)
    assert (row["paid_at"] is not None) == (status == "paid")
    assert row["hosted_invoice_url"] == "https://invoice.stripe.com/i/in_types"
    assert kinds(runtime) == NOTIFIED.get(event_type, set())


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_invoice_upcoming_never_creates_a_row(runtime: Runtime, shape: ApiShape) -> None:
    obj = f.invoice(None, CUS, SUB, "draft", shape=shape)
    apply(runtime, f.event("invoice.upcoming", obj, T0, shape=shape))
    assert rows(runtime.engine, "SELECT id FROM invoices") == []
    assert kinds(runtime) == set()


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize(
    ("event_type", "kind", "status"),
    [
        ("payment_method.attached", "card", "attached"),
        ("payment_method.updated", "sepa_debit", "attached"),
        ("payment_method.automatically_updated", "card", "attached"),
        ("payment_method.detached", "ideal", "detached"),
    ],
)
def test_payment_method_events(
    runtime: Runtime, event_type: str, kind: str, status: str, shape: ApiShape
) -> None:
    detached = event_type == "payment_method.detached"
    obj = f.payment_method("pm_types", None if detached else CUS, kind=kind, exp_year=2031)
    previous = {"customer": CUS} if detached else None
    apply(runtime, f.event(event_type, obj, T0, shape=shape, previous=previous))

    row = one(runtime.engine, "SELECT * FROM payment_methods WHERE id = 'pm_types'")
    assert (row["status"], row["type"], row["stripe_customer_id"]) == (status, kind, CUS)
    if kind == "card":
        assert (row["card_brand"], row["card_last4"], row["card_exp_year"]) == (
            "visa",
            "4242",
            2031,
        )
    if kind == "sepa_debit":
        assert (row["bank_code"], row["bank_last4"], row["bank_country"]) == ("INGB", "3000", "NL")
    if kind == "ideal":
        assert (row["ideal_bank"], row["ideal_bic"]) == ("ing", "INGBNL2A")


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize(
    ("event_type", "status", "payment_status"),
    [
        ("checkout.session.completed", "complete", "paid"),
        ("checkout.session.async_payment_succeeded", "complete", "paid"),
        ("checkout.session.async_payment_failed", "complete", "unpaid"),
        ("checkout.session.expired", "expired", "unpaid"),
    ],
)
def test_checkout_events(
    runtime: Runtime, event_type: str, status: str, payment_status: str, shape: ApiShape
) -> None:
    expired = status == "expired"
    obj = f.checkout(
        "cs_types",
        ACCT,
        None if expired else CUS,
        None if expired else SUB,
        status=status,
        payment_status=payment_status,
    )
    apply(runtime, f.event(event_type, obj, T0, shape=shape))

    row = one(runtime.engine, "SELECT * FROM checkout_sessions WHERE id = 'cs_types'")
    assert (row["status"], row["payment_status"], row["account_ref"]) == (
        status,
        payment_status,
        ACCT,
    )
    accounts = rows(
        runtime.engine, "SELECT account_ref, stripe_customer_id, email FROM billing_accounts"
    )
    if expired:
        assert accounts == []  # nothing to link without a customer
    else:
        assert accounts == [
            {"account_ref": ACCT, "stripe_customer_id": CUS, "email": "example@example.com"}
        ]
    assert kinds(runtime) == NOTIFIED.get(event_type, set())


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", ["customer.created", "customer.updated", "customer.deleted"])
def test_customer_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    obj = f.customer(CUS, account_ref=ACCT, default_pm="pm_default")
    apply(runtime, f.event(event_type, obj, T0, shape=shape))

    row = one(runtime.engine, "SELECT * FROM billing_accounts")
    assert (row["account_ref"], row["stripe_customer_id"]) == (ACCT, CUS)
    assert (row["email"], row["name"], row["company_name"]) == (
        "billing@example.nl",
        "Jan Jansen",
        "Jansen BV",
    )
    assert (row["vat_number"], row["kvk_number"]) == ("NL123456789B01", "12345678")
    assert (row["address_line1"], row["postal_code"], row["city"], row["country"]) == (
        "Damrak 1",
        "1012 LG",
        "Amsterdam",
        "NL",
    )
    assert row["default_payment_method_id"] == "pm_default"
    assert row["deleted"] is (event_type == "customer.deleted")
