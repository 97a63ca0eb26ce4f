"""Realistic Stripe objects and events for the mirror tests, in either API shape.

Objects start from Stripe's published examples (domain/fixtures/fixtures3.json) and are
rewritten to the pre-2025 shape when asked: subscription periods on the subscription
instead of its items, invoice `subscription` at the top level instead of under `parent`.
"""

from __future__ import annotations

from typing import Any

from domain.mirror.stripe_json import ApiShape
from domain.plans import load_catalog
from domain.samples import CURRENT_API_VERSION, build_event, example_object

LEGACY_API_VERSION = "2024-06-20"
CATALOG = load_catalog()
SHAPES = (ApiShape.CURRENT, ApiShape.LEGACY)
DAY = 86_400


def api_version(shape: ApiShape) -> str:
    return CURRENT_API_VERSION if shape is ApiShape.CURRENT else LEGACY_API_VERSION


def price(price_id: str) -> dict[str, Any]:
    """A price object for a catalog price id (or an unknown one)."""
    obj = example_object("price")
    plan = CATALOG.by_price(price_id)
    obj.update(
        id=price_id,
        unit_amount=plan.amount if plan else 1234,
        unit_amount_decimal=str(plan.amount if plan else 1234),
        currency=plan.currency if plan else "eur",
    )
    obj["recurring"] = {
        "interval": plan.interval if plan else "month",
        "interval_count": 1,
        "meter": None,
        "usage_type": "licensed",
        "trial_period_days": None,
    }
    return obj


def subscription(
    sub_id: str,
    customer: str | None,
    status: str,
    *,
    shape: ApiShape = ApiShape.CURRENT,
    price_id: str = "price_pro_month",
    period: tuple[int, int] = (1_700_000_000, 1_700_000_000 + 30 * DAY),
    cancel_at_period_end: bool = False,
    quantity: int = 1,
    item_id: str | None = None,
    default_payment_method: str | None = None,
) -> dict[str, Any]:
    """A subscription with one item, in the requested API shape."""
    obj = example_object("subscription")
    item = obj["items"]["data"][0]
    item.update(
        id=item_id or f"si_{sub_id}",
        subscription=sub_id,
        price=price(price_id),
        quantity=quantity,
        current_period_start=period[0],
        current_period_end=period[1],
    )
    item.pop("plan", None)
    canceled = status in ("canceled", "incomplete_expired")
    obj.update(
        id=sub_id,
        customer=customer,
        status=status,
        currency="eur",
        cancel_at_period_end=cancel_at_period_end,
        cancel_at=period[1] if cancel_at_period_end else None,
        canceled_at=period[0] + DAY if canceled else None,
        ended_at=period[0] + DAY if canceled else None,
        trial_start=period[0] if status == "trialing" else None,
        trial_end=period[1] if status == "trialing" else None,
        default_payment_method=default_payment_method,
        latest_invoice=None,
        created=period[0],
        metadata={},
    )
    obj["items"]["url"] = f"/v1/subscription_items?subscription={sub_id}"
    if shape is ApiShape.LEGACY:
        obj["current_period_start"] = item.pop("current_period_start")
        obj["current_period_end"] = item.pop("current_period_end")
    return obj


def invoice(
    inv_id: str | None,
    customer: str | None,
    sub_id: str | None,
    status: str,
    *,
    shape: ApiShape = ApiShape.CURRENT,
    amount: int = 2900,
    attempt_count: int = 0,
    created: int = 1_700_000_000,
) -> dict[str, Any]:
    """An invoice of a subscription, in the requested API shape."""
    obj = example_object("invoice")
    paid = status == "paid"
    obj.update(
        id=inv_id,
        customer=customer,
        status=status,
        currency="eur",
        amount_due=amount,
        amount_paid=amount if paid else 0,
        amount_remaining=0 if paid else amount,
        subtotal=amount,
        total=amount,
        attempt_count=attempt_count,
        attempted=attempt_count > 0,
        billing_reason="subscription_cycle",
        number=f"NR-{inv_id}" if inv_id and status != "draft" else None,
        hosted_invoice_url=f"https://invoice.stripe.com/i/{inv_id}" if inv_id else None,
        invoice_pdf=f"https://pay.stripe.com/invoice/{inv_id}/pdf" if inv_id else None,
        created=created,
        next_payment_attempt=created + 3 * DAY if attempt_count and not paid else None,
    )
    obj["status_transitions"] = {
        "finalized_at": created if status != "draft" else None,
        "marked_uncollectible_at": None,
        "paid_at": created + 60 if paid else None,
        "voided_at": None,
    }
    if shape is ApiShape.CURRENT:
        obj.pop("subscription", None)
        obj["parent"] = {
            "quote_details": None,
            "subscription_details": {"metadata": {}, "subscription": sub_id},
            "type": "subscription_details",
        }
    else:
        obj.pop("parent", None)
        obj["subscription"] = sub_id
    return obj


def customer(
    cus_id: str,
    *,
    account_ref: str | None = None,
    email: str = "billing@example.nl",
    default_pm: str | None = None,
    name: str = "Jan Jansen",
) -> dict[str, Any]:
    """A Dutch business customer, linked to an account via metadata when given."""
    obj = example_object("customer")
    meta = {"company_name": "Jansen BV", "vat_number": "NL123456789B01", "kvk_number": "12345678"}
    if account_ref:
        meta["account_ref"] = account_ref
    obj.update(id=cus_id, email=email, name=name, currency="eur", metadata=meta)
    obj["address"] = {
        "city": "Amsterdam",
        "country": "NL",
        "line1": "Damrak 1",
        "line2": None,
        "postal_code": "1012 LG",
        "state": None,
    }
    obj["invoice_settings"]["default_payment_method"] = default_pm
    return obj


def payment_method(
    pm_id: str, customer_id: str | None, *, kind: str = "card", exp_year: int = 2030
) -> dict[str, Any]:
    """A card, SEPA debit or iDEAL payment method."""
    obj = example_object("payment_method")
    obj.update(id=pm_id, customer=customer_id, type=kind)
    if kind == "card":
        obj["card"]["exp_year"] = exp_year
    else:
        obj.pop("card", None)
    if kind == "sepa_debit":
        obj["sepa_debit"] = {"bank_code": "INGB", "country": "NL", "last4": "3000"}
    if kind == "ideal":
        obj["ideal"] = {"bank": "ing", "bic": "INGBNL2A"}
    return obj


def checkout(
    cs_id: str,
    account_ref: str | None,
    customer_id: str | None,
    sub_id: str | None,
    *,
    status: str = "complete",
    payment_status: str = "paid",
) -> dict[str, Any]:
    """A subscription-mode checkout session."""
    obj = example_object("checkout.session")
    obj.update(
        id=cs_id,
        client_reference_id=account_ref,
        customer=customer_id,
        subscription=sub_id,
        mode="subscription",
        status=status,
        payment_status=payment_status,
        amount_total=2900,
        currency="eur",
    )
    return obj


def event(
    event_type: str,
    obj: dict[str, Any],
    created: int,
    *,
    shape: ApiShape = ApiShape.CURRENT,
    event_id: str | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Stripe event envelope around `obj`."""
    return build_event(
        event_type,
        obj,
        event_id=event_id,
        created=created,
        api_version=api_version(shape),
        previous_attributes=previous,
    )
