"""Each family's columns are declared once, in its table; what is still written out by
hand (the transition's row, the account answer) is proven here to agree with the table
field for field, and the derived read models keep the read API's contract."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Table

from domain.mirror.families import FAMILIES, checkout, customers, invoices, payment_methods
from domain.mirror.families import subscriptions as subs
from domain.mirror.families._read import Money
from domain.mirror.families.payment_methods import Owner
from domain.mirror.families.subscriptions.tables import ITEMS
from domain.mirror.statuses import InvoiceStatus, PaymentMethodStatus, SubscriptionStatus
from domain.mirror.tables import BillingAccount
from ingest.read_models import Address, CustomerOut
from tests.families.support import decide, envelope
from tests.mirror import factory as f
from tests.mirror import factory_credit_grants as fg
from tests.mirror import factory_customer as fc
from tests.mirror import factory_invoices as fi
from tests.mirror import factory_payments as fpay
from tests.mirror import factory_plans as fp
from tests.mirror import factory_sources as fs

ACCOUNTS: Table = BillingAccount.__table__  # type: ignore[assignment]
ACCOUNT_ROW = {"id": 1}
# One event of each family, and the facts its transition needs.
SAMPLES: dict[str, tuple[Any, Any]] = {
    "checkout-sessions": (
        envelope("checkout.session.completed", f.checkout("cs_1", "acct", "cus_1", "sub_1")),
        None,
    ),
    "credit-notes": (
        envelope("credit_note.created", fi.credit_note("cn_1", "cus_1", "in_1")),
        None,
    ),
    "customers": (envelope("customer.updated", f.customer("cus_1")), ACCOUNT_ROW),
    "invoices": (envelope("invoice.paid", f.invoice("in_1", "cus_1", "sub_1", "paid")), None),
    "payment-methods": (
        envelope("payment_method.attached", f.payment_method("pm_1", "cus_1")),
        Owner("cus_1", None),
    ),
    "payments": (
        envelope("payment_intent.succeeded", fpay.payment_intent("pi_1", "c", "succeeded")),
        None,
    ),
    "charges": (envelope("charge.succeeded", fpay.charge("ch_1", "cus_1")), None),
    "invoice-payments": (
        envelope(
            "invoice_payment.paid", fpay.invoice_payment("ip_1", "in_1", payment_intent="pi_1")
        ),
        None,
    ),
    "refunds": (envelope("refund.created", fpay.refund("re_1", "ch_1")), "cus_1"),
    "disputes": (envelope("charge.dispute.created", fpay.dispute("dp_1", "ch_1")), "cus_1"),
    "subscriptions": (
        envelope("customer.subscription.created", f.subscription("sub_1", "cus_1", "active")),
        None,
    ),
    "subscription-schedules": (
        envelope("subscription_schedule.created", fp.schedule("sub_sched_1", "cus_1", "active")),
        None,
    ),
    "products": (envelope("product.created", fp.product("prod_1")), None),
    "prices": (envelope("price.created", fp.price("price_1", "prod_1")), None),
    "entitlements": (
        envelope(
            "entitlements.active_entitlement_summary.updated", fp.entitlement_summary("cus_1", "a")
        ),
        None,
    ),
    "tax-ids": (envelope("customer.tax_id.created", fc.tax_id("txi_1", "cus_1")), None),
    "coupons": (envelope("coupon.created", fc.coupon("co_1")), None),
    "promotion-codes": (
        envelope("promotion_code.created", fc.promotion_code("promo_1", "co_1")),
        None,
    ),
    "discounts": (
        envelope("customer.discount.created", fc.discount("di_1", "cus_1", "co_1")),
        None,
    ),
    "sources": (
        envelope("customer.source.created", fs.card("card_1", "cus_1")),
        Owner("cus_1", None),
    ),
    "mandates": (envelope("mandate.updated", fs.mandate("mandate_1", "pm_1", "active")), None),
    "setup-intents": (
        envelope("setup_intent.succeeded", fs.setup_intent("seti_1", "cus_1", "succeeded")),
        None,
    ),
    "credit-grants": (
        envelope("billing.credit_grant.created", fg.credit_grant("credgr_1", "cus_1")),
        None,
    ),
}


def columns(table: Table, *left_out: str) -> set[str]:
    return {c.name for c in table.columns} - {"updated_at", *left_out}


def test_every_family_has_a_sample() -> None:
    assert set(SAMPLES) == {family.name for family in FAMILIES}


@pytest.mark.parametrize("family", FAMILIES, ids=lambda fam: fam.name)
def test_a_transition_writes_exactly_its_tables_columns(family: Any) -> None:
    event, facts = SAMPLES[family.name]
    result = decide(family, event, facts=facts)
    if family is subs.FAMILY:
        assert set(result.row) == columns(subs.tables.SUBSCRIPTIONS)
        assert all(set(item) == columns(ITEMS) for item in result.items) and result.items
    elif family is customers.FAMILY:
        # The account's own keys and times are the link's, not the customer details'.
        assert set(result.values) == columns(
            ACCOUNTS, "id", "account_ref", "stripe_customer_id", "created_at"
        )
    else:
        assert set(result) == columns(family.table)


# Where the account answer's `customer` shows each customer column the customers family
# writes (the default payment method is shown under `billing`; raw and stamps never).
CUSTOMER_OUT = {
    "email": "email",
    "name": "name",
    "company_name": "company_name",
    "vat_number": "vat_number",
    "kvk_number": "kvk_number",
    "address_line1": "address.line1",
    "address_line2": "address.line2",
    "postal_code": "address.postal_code",
    "city": "address.city",
    "state": "address.state",
    "country": "address.country",
    "currency": "currency",
    "deleted": "deleted",
}
NOT_IN_CUSTOMER_OUT = {"default_payment_method_id", "raw"}


def test_the_account_answer_shows_every_customer_column_field_for_field() -> None:
    event, facts = SAMPLES["customers"]
    written = set(decide(customers.FAMILY, event, facts=facts).values)
    stamps = {"last_event_created", "last_event_rank", "last_event_id"}
    assert written - stamps - NOT_IN_CUSTOMER_OUT == set(CUSTOMER_OUT)
    shown = {f"address.{n}" for n in Address.model_fields} | {
        n for n in CustomerOut.model_fields if n != "address"
    }
    # `country` also stands at the top level; the customer id is the account's link.
    assert shown - {"country", "stripe_customer_id"} == set(CUSTOMER_OUT.values())
    for column, where in CUSTOMER_OUT.items():
        model = Address if where.startswith("address.") else CustomerOut
        field = model.model_fields[where.removeprefix("address.")]
        nullable = ACCOUNTS.c[column].nullable
        assert (type(None) in getattr(field.annotation, "__args__", ())) == nullable, column


# The read API's list bodies as they were written out by hand before being derived: the
# derivation must keep every field and type (statuses are now typed as their enums).
CONTRACT: dict[str, dict[str, Any]] = {
    "SubscriptionOut": {
        "id": str,
        "status": SubscriptionStatus,
        "plan_tier": str,
        "plan_interval": str | None,
        "price_id": str | None,
        "quantity": int | None,
        "unit_amount": Money | None,
        "current_period_start": datetime | None,
        "current_period_end": datetime | None,
        "cancel_at_period_end": bool,
        "cancel_at": datetime | None,
        "canceled_at": datetime | None,
        "ended_at": datetime | None,
        "trial_start": datetime | None,
        "trial_end": datetime | None,
        "default_payment_method_id": str | None,
        "latest_invoice_id": str | None,
        "created": datetime | None,
        "items": "list[SubscriptionItemOut]",
    },
    "SubscriptionItemOut": {
        "id": str,
        "price_id": str | None,
        "plan_tier": str,
        "plan_interval": str | None,
        "quantity": int | None,
        "unit_amount": Money | None,
    },
    "InvoiceOut": {
        "id": str,
        "number": str | None,
        "status": InvoiceStatus,
        "subscription_id": str | None,
        "currency": str,
        "amount_due": int,
        "amount_paid": int,
        "amount_remaining": int,
        "subtotal": int | None,
        "total": int | None,
        "tax": int | None,  # added with the complete invoices family
        "billing_reason": str | None,
        "hosted_invoice_url": str | None,
        "invoice_pdf": str | None,
        "paid_at": datetime | None,
        "attempt_count": int,
        "next_payment_attempt": datetime | None,
        "period_start": datetime | None,
        "period_end": datetime | None,
        "due_date": datetime | None,
        "finalization_error_code": str | None,
        "finalization_error_message": str | None,
        "created": datetime | None,
    },
    "PaymentMethodOut": {
        "id": str,
        "type": str,
        "source": bool,
        "status": PaymentMethodStatus,
        "is_default": bool,
        "card_brand": str | None,
        "card_last4": str | None,
        "card_exp_month": int | None,
        "card_exp_year": int | None,
        "bank_code": str | None,
        "bank_last4": str | None,
        "bank_country": str | None,
        "ideal_bank": str | None,
        "ideal_bic": str | None,
    },
}


def _described(annotation: Any) -> Any:
    if getattr(annotation, "__origin__", None) is list:
        return f"list[{annotation.__args__[0].__name__}]"
    return annotation


def test_the_derived_read_models_keep_the_read_apis_fields_and_types() -> None:
    shapes = [subs.LISTING.shape, subs.ITEM_SHAPE, invoices.LISTING.shape]
    shapes.append(payment_methods.LISTING.shape)
    models = {shape.model.__name__: shape.model for shape in shapes}
    assert set(models) == set(CONTRACT)
    for name, model in models.items():
        found = {n: _described(field.annotation) for n, field in model.model_fields.items()}
        assert found == CONTRACT[name], name
    assert checkout.FAMILY.listing is None  # sessions are not listed by the read API
