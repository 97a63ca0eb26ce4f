"""Every command type against the fake Stripe, end to end through the API and the runner."""

from __future__ import annotations

from sqlalchemy import Engine, text

from tests.commands.conftest import Commands
from tests.support.fake_stripe import FakeStripe
from workers.commands.customers import account_ref_query

URLS = {"success_url": "https://app.example/ok", "cancel_url": "https://app.example/no"}


def mirror_customer(db: Engine, account_ref: str) -> str | None:
    with db.connect() as conn:
        return conn.execute(
            text("SELECT stripe_customer_id FROM billing_accounts WHERE account_ref = :r"),
            {"r": account_ref},
        ).scalar_one_or_none()


def test_customer_ensure_creates_once_and_links_the_mirror(
    commands: Commands, fake_stripe: FakeStripe, db: Engine
) -> None:
    first = commands.run("customer.ensure", email="billing@example.com", name="Acme")
    assert first["status"] == "succeeded" and first["attempts"] == 1
    customer_id = first["result"]["customer_id"]
    assert first["result"]["created"] is True
    assert mirror_customer(db, "acct_1") == customer_id
    again = commands.run("customer.ensure")
    assert again["result"] == {"customer_id": customer_id, "created": False}
    assert fake_stripe.created("customer") == 1
    stored = fake_stripe.resources.objects[customer_id]
    assert stored["metadata"] == {"account_ref": "acct_1"}


def test_ensure_finds_the_accounts_customer_in_stripe_when_the_mirror_lost_it(
    commands: Commands, fake_stripe: FakeStripe, db: Engine
) -> None:
    # Customers made an hour ago (indexed for search), before the database was restored.
    ours = fake_stripe.resources.customers.create_customer({"metadata": {"account_ref": "acct_1"}})
    theirs = fake_stripe.resources.customers.create_customer(
        {"metadata": {"account_ref": "acct_10"}}
    )
    ours["created"] -= 3600
    theirs["created"] -= 3600
    fake_stripe.fail_next("500", on="GET /v1/customers/search")  # a search is retried too
    found = commands.run("customer.ensure", email="billing@example.com")
    assert found["status"] == "succeeded" and found["attempts"] == 2, found
    assert found["result"] == {"customer_id": ours["id"], "created": False}
    assert mirror_customer(db, "acct_1") == ours["id"]
    assert fake_stripe.calls("POST", "/v1/customers") == 0
    # Linked now: later commands reuse it without searching again.
    commands.run("checkout.create", tier="pro", interval="month", **URLS)
    assert fake_stripe.calls("GET", "/v1/customers/search") == 2
    assert fake_stripe.created("customer") == 2


def test_ensure_searches_stripe_by_account_ref_before_creating(
    commands: Commands, fake_stripe: FakeStripe
) -> None:
    created = commands.run("customer.ensure")
    assert created["result"]["created"] is True
    customer_calls = [r for r in fake_stripe.state.requests if r[1].startswith("/v1/customers")]
    assert customer_calls == [("GET", "/v1/customers/search"), ("POST", "/v1/customers")]
    assert account_ref_query("acct_1") == "metadata['account_ref']:'acct_1'"
    assert account_ref_query("o'b\\x") == "metadata['account_ref']:'o\\'b\\\\x'"


def test_update_billing_details_sets_details_vat_and_kvk(
    commands: Commands, fake_stripe: FakeStripe, db: Engine
) -> None:
    done = commands.run(
        "customer.update_billing_details",
        company_name="Acme B.V.",
        email="finance@example.com",
        address={
            "line1": "Damrak 1",
            "postal_code": "1012 LG",
            "city": "Amsterdam",
            "country": "NL",
        },
        vat_number="NL 8123.45.678.B01",
        kvk_number="12345678",
    )
    assert done["status"] == "succeeded", done
    customer = fake_stripe.resources.objects[done["result"]["customer_id"]]
    assert customer["name"] == "Acme B.V." and customer["metadata"]["kvk_number"] == "12345678"
    tax = fake_stripe.resources.objects[done["result"]["tax_id"]]
    assert (tax["type"], tax["value"]) == ("eu_vat", "NL812345678B01")
    # A new VAT number replaces the old one: the customer keeps exactly one eu_vat id.
    commands.run("customer.update_billing_details", vat_number="DE123456789")
    values = [
        o["value"] for o in fake_stripe.resources.objects.values() if o.get("object") == "tax_id"
    ]
    assert values == ["DE123456789"]
    with db.connect() as conn:
        row = conn.execute(
            text(
                "SELECT company_name, email, city FROM billing_accounts WHERE account_ref='acct_1'"
            )
        ).one()
    assert tuple(row) == ("Acme B.V.", "finance@example.com", "Amsterdam")


def test_checkout_portal_setup_intent(commands: Commands, fake_stripe: FakeStripe) -> None:
    checkout = commands.run("checkout.create", tier="pro", interval="month", **URLS)
    assert checkout["status"] == "succeeded", checkout
    session = fake_stripe.resources.objects[checkout["result"]["checkout_session_id"]]
    assert checkout["result"]["url"].startswith("https://checkout.stripe.com/")
    assert session["client_reference_id"] == "acct_1"
    assert session["customer"] == checkout["result"]["customer_id"]
    assert session["payment_method_types"] == ["card", "ideal"]
    assert fake_stripe.created("customer") == 1
    portal = commands.run("portal.create", return_url="https://app.example/account")
    assert portal["result"]["url"].startswith("https://billing.stripe.com/")
    intent = commands.run("setup_intent.create", payment_method_types=["card", "sepa_debit"])
    assert intent["result"]["client_secret"].startswith(intent["result"]["setup_intent_id"])


def test_payment_method_commands(commands: Commands, fake_stripe: FakeStripe) -> None:
    commands.run("customer.ensure")
    attached = commands.run(
        "payment_method.attach", payment_method_id="pm_card_visa", set_default=True
    )
    assert attached["status"] == "succeeded", attached
    customer_id = attached["result"]["customer_id"]
    customer = fake_stripe.resources.objects[customer_id]
    assert customer["invoice_settings"]["default_payment_method"] == "pm_card_visa"
    commands.run("payment_method.attach", payment_method_id="pm_card_mastercard")
    default = commands.run("payment_method.set_default", payment_method_id="pm_card_mastercard")
    assert default["status"] == "succeeded"
    assert customer["invoice_settings"]["default_payment_method"] == "pm_card_mastercard"
    detached = commands.run("payment_method.detach", payment_method_id="pm_card_visa")
    assert detached["status"] == "succeeded"
    assert fake_stripe.resources.objects["pm_card_visa"]["customer"] is None
    other = commands.run(
        "payment_method.detach", account_ref="acct_2", payment_method_id="pm_card_mastercard"
    )
    assert other["status"] == "failed" and other["error"]["code"] == "no_customer"


def test_subscription_commands_and_preview(commands: Commands, fake_stripe: FakeStripe) -> None:
    checkout = commands.run("checkout.create", tier="starter", interval="month", **URLS)
    session = fake_stripe.complete_checkout(checkout["result"]["checkout_session_id"])
    sub_id = session["subscription"]
    preview = commands.run("invoice.preview", tier="pro", interval="month", subscription_id=sub_id)
    assert preview["status"] == "succeeded", preview
    assert preview["result"]["currency"] == "eur" and isinstance(preview["result"]["total"], int)
    now = commands.run(
        "subscription.change_plan", tier="pro", interval="month", subscription_id=sub_id
    )
    assert now["result"]["price_id"] == "price_pro_month", now
    later = commands.run(
        "subscription.change_plan",
        tier="business",
        interval="year",
        when="period_end",
        subscription_id=sub_id,
    )
    assert later["status"] == "succeeded", later
    schedule = fake_stripe.resources.objects[later["result"]["schedule_id"]]
    assert [p["items"][0]["price"] for p in schedule["phases"]] == [
        "price_pro_month",
        "price_business_year",
    ]
    # Current API versions: the new phase is as long as a `duration` (no `iterations`).
    assert int(schedule["phases"][0]["end_date"]) == later["result"]["effective_at"]
    assert schedule["phases"][1]["duration"] == {"interval": "year", "interval_count": 1}
    assert "iterations" not in schedule["phases"][1]
    cancel = commands.run("subscription.cancel", subscription_id=sub_id)
    assert cancel["result"]["cancel_at_period_end"] is True
    resume = commands.run("subscription.resume", subscription_id=sub_id)
    assert resume["result"]["cancel_at_period_end"] is False
    gone = commands.run("subscription.cancel", subscription_id=sub_id, when="now")
    assert gone["result"]["status"] == "canceled"
    foreign = commands.run("subscription.resume", account_ref="acct_9", subscription_id=sub_id)
    assert foreign["status"] == "failed"


def test_subscription_defaults_to_the_accounts_live_one_from_the_mirror(
    commands: Commands, fake_stripe: FakeStripe
) -> None:
    checkout = commands.run("checkout.create", tier="starter", interval="year", **URLS)
    session = fake_stripe.complete_checkout(checkout["result"]["checkout_session_id"])
    # No webhooks here: the command's own result (the canceled-at-period-end subscription)
    # must be enough for the next command to find the subscription in the mirror.
    first = commands.run("subscription.cancel", subscription_id=session["subscription"])
    assert first["status"] == "succeeded"
    resumed = commands.run("subscription.resume")
    assert resumed["status"] == "succeeded", resumed
    assert resumed["result"]["subscription_id"] == session["subscription"]
