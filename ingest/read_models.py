"""Response bodies of the read API: pydantic, so the OpenAPI schemas are this very code."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class PaymentMethodBrief(BaseModel):
    """The default payment method as shown to a customer (brand and last 4 only)."""

    id: str
    type: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


class BillingOut(BaseModel):
    """Is the account paying, on which plan, until when."""

    subscription_id: str | None
    plan_tier: str | None
    plan_interval: str | None
    status: str | None
    entitled: bool
    in_grace_period: bool
    grace_until: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    default_payment_method: PaymentMethodBrief | None


class Address(BaseModel):
    line1: str | None
    line2: str | None
    postal_code: str | None
    city: str | None
    state: str | None
    country: str | None


class CustomerOut(BaseModel):
    """Customer details as mirrored from Stripe (null until a customer event arrived)."""

    stripe_customer_id: str | None
    email: str | None
    name: str | None
    company_name: str | None
    vat_number: str | None
    kvk_number: str | None
    address: Address
    country: str | None
    currency: str | None
    deleted: bool


class AccountOut(BaseModel):
    """GET /v1/accounts/{account_ref}."""

    account_ref: str
    billing: BillingOut
    customer: CustomerOut


class Money(BaseModel):
    """An amount in minor units (cents) and a lower-case ISO currency."""

    amount: int
    currency: str


class SubscriptionItemOut(BaseModel):
    id: str
    price_id: str | None
    plan_tier: str
    plan_interval: str | None
    quantity: int | None
    unit_amount: Money | None


class SubscriptionOut(BaseModel):
    """A subscription of the account."""

    id: str
    status: str
    plan_tier: str
    plan_interval: str | None
    price_id: str | None
    quantity: int | None
    unit_amount: Money | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    cancel_at: datetime | None
    canceled_at: datetime | None
    ended_at: datetime | None
    trial_start: datetime | None
    trial_end: datetime | None
    default_payment_method_id: str | None
    latest_invoice_id: str | None
    created: datetime | None
    items: list[SubscriptionItemOut]


class InvoiceOut(BaseModel):
    """An invoice of the account; amounts in minor units of `currency`."""

    id: str
    number: str | None
    status: str
    subscription_id: str | None
    currency: str
    amount_due: int
    amount_paid: int
    amount_remaining: int
    subtotal: int | None
    total: int | None
    billing_reason: str | None
    hosted_invoice_url: str | None
    invoice_pdf: str | None
    paid_at: datetime | None
    attempt_count: int
    next_payment_attempt: datetime | None
    period_start: datetime | None
    period_end: datetime | None
    due_date: datetime | None
    created: datetime | None


class PaymentMethodOut(BaseModel):
    """A payment method: card brand/last4/expiry, SEPA bank/last4, or iDEAL bank/BIC."""

    id: str
    type: str
    status: str
    is_default: bool
    card_brand: str | None
    card_last4: str | None
    card_exp_month: int | None
    card_exp_year: int | None
    bank_code: str | None
    bank_last4: str | None
    bank_country: str | None
    ideal_bank: str | None
    ideal_bic: str | None


class SubscriptionPage(BaseModel):
    data: list[SubscriptionOut]
    has_more: bool
    next_cursor: str | None


class InvoicePage(BaseModel):
    data: list[InvoiceOut]
    has_more: bool
    next_cursor: str | None


class PaymentMethodList(BaseModel):
    data: list[PaymentMethodOut]


class NotificationOut(BaseModel):
    """One notification; `id` is the cursor and the receiver's dedupe key."""

    id: int
    kind: str
    account_ref: str | None
    stripe_customer_id: str | None
    object_type: str
    object_id: str | None
    event_id: str
    event_created: int
    created_at: datetime
    data: dict[str, Any]
    delivery_status: str


class NotificationPage(BaseModel):
    """Oldest first; pass `next_cursor` as `after` next time (it stays put when empty)."""

    data: list[NotificationOut]
    has_more: bool
    next_cursor: int
