"""Coherent, linked Stripe objects for one product account, like `stripe trigger` makes.

Every id derives from the account ref (the same ref gives the same customer, subscription,
invoice and checkout session), so single events sent for an account land on its objects.
The objects start from Stripe's published examples and are made consistent: the customer
carries `metadata.account_ref`, the subscription a real price of the plan catalog, the
invoice that subscription and its amount, the checkout session the customer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from domain.plans import Plan
from domain.samples import example_object

DAY = 86_400


@dataclass(frozen=True)
class SampleAccount:
    """One account's ids and plan; `now` anchors the subscription period."""

    account_ref: str
    plan: Plan
    now: int

    def _id(self, prefix: str) -> str:
        digest = hashlib.sha256(self.account_ref.encode()).hexdigest()[:14]
        return f"{prefix}_sample{digest}"

    @property
    def customer_id(self) -> str:
        return self._id("cus")

    @property
    def subscription_id(self) -> str:
        return self._id("sub")

    @property
    def item_id(self) -> str:
        return self._id("si")

    @property
    def invoice_id(self) -> str:
        return self._id("in")

    @property
    def checkout_id(self) -> str:
        return self._id("cs_test")

    @property
    def payment_method_id(self) -> str:
        return self._id("pm")

    @property
    def period(self) -> tuple[int, int]:
        length = 365 * DAY if self.plan.interval == "year" else 30 * DAY
        return self.now, self.now + length


def customer(acct: SampleAccount) -> dict[str, Any]:
    obj = example_object("customer")
    obj.update(
        id=acct.customer_id,
        email=f"billing+{acct.customer_id}@example.com",
        name="Sample Customer",
        currency=acct.plan.currency,
        metadata={"account_ref": acct.account_ref},
        created=acct.now,
    )
    obj["invoice_settings"]["default_payment_method"] = acct.payment_method_id
    return obj


def price(acct: SampleAccount) -> dict[str, Any]:
    obj = example_object("price")
    obj.update(
        id=acct.plan.price_id,
        unit_amount=acct.plan.amount,
        unit_amount_decimal=str(acct.plan.amount),
        currency=acct.plan.currency,
        recurring={
            "interval": acct.plan.interval,
            "interval_count": 1,
            "meter": None,
            "usage_type": "licensed",
            "trial_period_days": None,
        },
    )
    return obj


def subscription(
    acct: SampleAccount, status: str = "active", *, cancel_at_period_end: bool = False
) -> dict[str, Any]:
    """The account's subscription (current API shape: periods on the item)."""
    obj = example_object("subscription")
    start, end = acct.period
    item = obj["items"]["data"][0]
    item.update(
        id=acct.item_id,
        subscription=acct.subscription_id,
        price=price(acct),
        quantity=1,
        created=start,
        current_period_start=start,
        current_period_end=end,
    )
    item.pop("plan", None)
    canceled = status == "canceled"
    obj.update(
        id=acct.subscription_id,
        customer=acct.customer_id,
        status=status,
        currency=acct.plan.currency,
        cancel_at_period_end=cancel_at_period_end,
        cancel_at=end if cancel_at_period_end else None,
        canceled_at=acct.now if canceled or cancel_at_period_end else None,
        ended_at=acct.now if canceled else None,
        trial_start=None,
        trial_end=None,
        default_payment_method=acct.payment_method_id,
        latest_invoice=acct.invoice_id,
        created=start,
        billing_cycle_anchor=start,
        metadata={},
        schedule=None,
    )
    obj.pop("plan", None)
    obj["items"]["data"] = [item]
    obj["items"]["url"] = f"/v1/subscription_items?subscription={acct.subscription_id}"
    return obj


def invoice(acct: SampleAccount, status: str = "paid") -> dict[str, Any]:
    """The subscription's first invoice, for the plan's amount."""
    obj = example_object("invoice")
    paid = status == "paid"
    amount = acct.plan.amount
    start = acct.now
    obj.update(
        id=acct.invoice_id,
        customer=acct.customer_id,
        status=status,
        currency=acct.plan.currency,
        amount_due=amount,
        amount_paid=amount if paid else 0,
        amount_remaining=0 if paid else amount,
        subtotal=amount,
        total=amount,
        attempt_count=1,
        attempted=True,
        billing_reason="subscription_create",
        number=f"SAMPLE-{acct.invoice_id[-6:].upper()}",
        hosted_invoice_url=f"https://invoice.stripe.com/i/{acct.invoice_id}",
        invoice_pdf=f"https://pay.stripe.com/invoice/{acct.invoice_id}/pdf",
        created=start,
        period_start=start,
        period_end=start,
        due_date=None,
        next_payment_attempt=None if paid else start + 3 * DAY,
    )
    obj.pop("subscription", None)
    obj["status_transitions"] = {
        "finalized_at": start,
        "marked_uncollectible_at": None,
        "paid_at": start + 60 if paid else None,
        "voided_at": None,
    }
    obj["parent"] = {
        "quote_details": None,
        "subscription_details": {"metadata": {}, "subscription": acct.subscription_id},
        "type": "subscription_details",
    }
    return obj


def checkout_session(acct: SampleAccount) -> dict[str, Any]:
    """A completed subscription-mode checkout: the account's customer and subscription."""
    obj = example_object("checkout.session")
    obj.update(
        id=acct.checkout_id,
        client_reference_id=acct.account_ref,
        customer=acct.customer_id,
        subscription=acct.subscription_id,
        invoice=acct.invoice_id,
        mode="subscription",
        status="complete",
        payment_status="paid",
        payment_intent=None,
        amount_subtotal=acct.plan.amount,
        amount_total=acct.plan.amount,
        currency=acct.plan.currency,
        created=acct.now,
        expires_at=acct.now + DAY,
        metadata={},
    )
    return obj


def payment_method(acct: SampleAccount) -> dict[str, Any]:
    obj = example_object("payment_method")
    obj.update(id=acct.payment_method_id, customer=acct.customer_id, type="card")
    return obj
