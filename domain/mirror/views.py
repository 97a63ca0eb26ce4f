"""Typed, frozen views of the Stripe objects the mirror reads, parsed at the edge.

Both API shapes are accepted: pre-2025 (subscription `current_period_*` on the subscription,
invoice `subscription` at the top level) and current (periods on items, invoice
`parent.subscription_details.subscription`). The payload decides; api_version breaks ties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from domain.mirror.statuses import (
    CheckoutPaymentStatus,
    CheckoutStatus,
    InvoiceStatus,
    SubscriptionStatus,
)
from domain.mirror.stripe_json import (
    ApiShape,
    currency,
    list_data,
    opt_int,
    opt_str,
    ref_id,
    shape_from_version,
    sub,
    ts,
)

E = TypeVar("E", CheckoutStatus, CheckoutPaymentStatus)


class ViewError(ValueError):
    """The object lacks what the mirror needs (e.g. no id); the event cannot be applied."""


def _require_id(obj: dict[str, Any], kind: str) -> str:
    obj_id = opt_str(obj.get("id"))
    if obj_id is None:
        raise ViewError(f"{kind} without an id")
    return obj_id


@dataclass(frozen=True, slots=True)
class ItemView:
    """One subscription item: its price and (current shape) its own billing period."""

    id: str
    price_id: str | None
    interval: str | None
    quantity: int | None
    unit_amount: int | None
    currency: str | None
    current_period_start: datetime | None
    current_period_end: datetime | None
    raw: dict[str, Any] = field(repr=False)


def parse_item(obj: dict[str, Any]) -> ItemView:
    """An item of `subscription.items`; older payloads carry the price under `plan`."""
    price = obj.get("price") if isinstance(obj.get("price"), dict) else obj.get("plan")
    price = price if isinstance(price, dict) else {}
    interval = sub(price, "recurring", "interval") or price.get("interval")
    amount = opt_int(price.get("unit_amount"))
    return ItemView(
        id=_require_id(obj, "subscription item"),
        price_id=opt_str(price.get("id")),
        interval=opt_str(interval),
        quantity=opt_int(obj.get("quantity")),
        unit_amount=amount if amount is not None else opt_int(price.get("amount")),
        currency=currency(price.get("currency")),
        current_period_start=ts(obj.get("current_period_start")),
        current_period_end=ts(obj.get("current_period_end")),
        raw=obj,
    )


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription with its period normalised across API shapes."""

    id: str
    customer_id: str | None
    status: SubscriptionStatus
    items: tuple[ItemView, ...]
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
    currency: str | None
    created: datetime | None
    shape: ApiShape
    raw: dict[str, Any] = field(repr=False)

    @property
    def primary_item(self) -> ItemView | None:
        """The first item: the plan the product sells (add-ons come after it)."""
        return self.items[0] if self.items else None


def subscription_shape(obj: dict[str, Any], api_version: str | None) -> ApiShape:
    """Periods on the subscription mean pre-2025; periods on items mean current."""
    if "current_period_end" in obj or "current_period_start" in obj:
        return ApiShape.LEGACY
    if any("current_period_end" in i for i in list_data(obj.get("items"))):
        return ApiShape.CURRENT
    return shape_from_version(api_version)


def parse_subscription(obj: dict[str, Any], api_version: str | None = None) -> SubscriptionView:
    """Parse a subscription object in either API shape."""
    items = tuple(parse_item(i) for i in list_data(obj.get("items")))
    shape = subscription_shape(obj, api_version)
    start, end = ts(obj.get("current_period_start")), ts(obj.get("current_period_end"))
    if shape is ApiShape.CURRENT or (start is None and end is None):
        dated = next((i for i in items if i.current_period_end is not None), None)
        if dated is not None:
            start, end = dated.current_period_start, dated.current_period_end
    try:
        status = SubscriptionStatus(str(obj.get("status")))
    except ValueError:
        raise ViewError(f"unknown subscription status {obj.get('status')!r}") from None
    return SubscriptionView(
        id=_require_id(obj, "subscription"),
        customer_id=ref_id(obj.get("customer")),
        status=status,
        items=items,
        current_period_start=start,
        current_period_end=end,
        cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
        cancel_at=ts(obj.get("cancel_at")),
        canceled_at=ts(obj.get("canceled_at")),
        ended_at=ts(obj.get("ended_at")),
        trial_start=ts(obj.get("trial_start")),
        trial_end=ts(obj.get("trial_end")),
        default_payment_method_id=ref_id(obj.get("default_payment_method")),
        latest_invoice_id=ref_id(obj.get("latest_invoice")),
        currency=currency(obj.get("currency")),
        created=ts(obj.get("created")),
        shape=shape,
        raw=obj,
    )


def previous_price_id(previous: dict[str, Any]) -> str | None:
    """The price before an update, from previous_attributes (items, or legacy `plan`)."""
    items = list_data(previous.get("items"))
    if items:
        return parse_item(items[0]).price_id
    return ref_id(previous.get("plan")) or ref_id(previous.get("price"))


@dataclass(frozen=True, slots=True)
class InvoiceView:
    """An invoice; `id` is None only for `invoice.upcoming` previews."""

    id: str | None
    customer_id: str | None
    subscription_id: str | None
    number: str | None
    status: InvoiceStatus
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
    shape: ApiShape
    raw: dict[str, Any] = field(repr=False)


def invoice_shape(obj: dict[str, Any], api_version: str | None) -> ApiShape:
    """`parent` means current; a top-level `subscription` without it means pre-2025."""
    if isinstance(obj.get("parent"), dict):
        return ApiShape.CURRENT
    if "subscription" in obj and "parent" not in obj:
        return ApiShape.LEGACY
    return shape_from_version(api_version)


def parse_invoice(obj: dict[str, Any], api_version: str | None = None) -> InvoiceView:
    """Parse an invoice object in either API shape."""
    shape = invoice_shape(obj, api_version)
    if shape is ApiShape.CURRENT:
        subscription_id = ref_id(sub(obj, "parent", "subscription_details", "subscription"))
        subscription_id = subscription_id or ref_id(obj.get("subscription"))
    else:
        subscription_id = ref_id(obj.get("subscription"))
    try:
        status = InvoiceStatus(obj.get("status") or "draft")
    except ValueError:
        raise ViewError(f"unknown invoice status {obj.get('status')!r}") from None
    code = currency(obj.get("currency"))
    if code is None:
        raise ViewError("invoice without a currency")
    return InvoiceView(
        id=opt_str(obj.get("id")),
        customer_id=ref_id(obj.get("customer")),
        subscription_id=subscription_id,
        number=opt_str(obj.get("number")),
        status=status,
        currency=code,
        amount_due=opt_int(obj.get("amount_due")) or 0,
        amount_paid=opt_int(obj.get("amount_paid")) or 0,
        amount_remaining=opt_int(obj.get("amount_remaining")) or 0,
        subtotal=opt_int(obj.get("subtotal")),
        total=opt_int(obj.get("total")),
        billing_reason=opt_str(obj.get("billing_reason")),
        hosted_invoice_url=opt_str(obj.get("hosted_invoice_url")),
        invoice_pdf=opt_str(obj.get("invoice_pdf")),
        paid_at=ts(sub(obj, "status_transitions", "paid_at")),
        attempt_count=opt_int(obj.get("attempt_count")) or 0,
        next_payment_attempt=ts(obj.get("next_payment_attempt")),
        period_start=ts(obj.get("period_start")),
        period_end=ts(obj.get("period_end")),
        due_date=ts(obj.get("due_date")),
        created=ts(obj.get("created")),
        shape=shape,
        raw=obj,
    )


@dataclass(frozen=True, slots=True)
class CheckoutView:
    """A checkout session; `client_reference_id` is the product's account_ref."""

    id: str
    account_ref: str | None
    customer_id: str | None
    subscription_id: str | None
    mode: str | None
    status: CheckoutStatus | None
    payment_status: CheckoutPaymentStatus | None
    amount_total: int | None
    currency: str | None
    email: str | None
    name: str | None
    created: datetime | None
    raw: dict[str, Any] = field(repr=False)


def _enum_or_none(cls: type[E], value: Any) -> E | None:
    try:
        return cls(value) if value is not None else None
    except ValueError:
        return None


def parse_checkout(obj: dict[str, Any]) -> CheckoutView:
    """Parse a checkout.session object."""
    return CheckoutView(
        id=_require_id(obj, "checkout session"),
        account_ref=opt_str(obj.get("client_reference_id"))
        or opt_str(sub(obj, "metadata", "account_ref")),
        customer_id=ref_id(obj.get("customer")),
        subscription_id=ref_id(obj.get("subscription")),
        mode=opt_str(obj.get("mode")),
        status=_enum_or_none(CheckoutStatus, obj.get("status")),
        payment_status=_enum_or_none(CheckoutPaymentStatus, obj.get("payment_status")),
        amount_total=opt_int(obj.get("amount_total")),
        currency=currency(obj.get("currency")),
        email=opt_str(sub(obj, "customer_details", "email")) or opt_str(obj.get("customer_email")),
        name=opt_str(sub(obj, "customer_details", "name")),
        created=ts(obj.get("created")),
        raw=obj,
    )
