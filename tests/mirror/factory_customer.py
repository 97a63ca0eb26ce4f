"""Stripe objects of the customer extras (tax ids, coupons, promotion codes, discounts), in
either API shape, built from Stripe's published examples (domain/fixtures/fixtures3.json).

The example objects are the newest shape: a tax id names its `owner`, a discount names
its coupon under `source.coupon` (2025-09-30) and a promotion code under
`promotion.coupon`. The pre-2025 shape drops `owner`/`customer_account` and carries the
coupon itself, expanded, under `coupon`.
"""

from __future__ import annotations

from typing import Any

from domain.mirror.stripe_json import ApiShape
from domain.samples import example_object


def tax_id(
    txi_id: str,
    customer: str | None,
    *,
    shape: ApiShape = ApiShape.CURRENT,
    type: str = "eu_vat",
    value: str = "NL123456789B01",
    country: str | None = "NL",
    status: str | None = "pending",
    verified_name: str | None = None,
    verified_address: str | None = None,
    created: int = 1_700_000_000,
) -> dict[str, Any]:
    """A customer's tax id with its verification."""
    obj = example_object("tax_id")
    obj.update(id=txi_id, customer=customer, type=type, value=value, country=country)
    obj["created"] = created
    obj["verification"] = {
        "status": status,
        "verified_address": verified_address,
        "verified_name": verified_name,
    }
    if shape is ApiShape.CURRENT:
        obj["owner"] = {"customer": customer, "type": "customer", "customer_account": None}
    else:
        obj.pop("owner", None)
        obj.pop("customer_account", None)
    return obj


def coupon(
    coupon_id: str,
    *,
    name: str | None = "Launch 20%",
    percent_off: float | None = 20.0,
    amount_off: int | None = None,
    currency: str | None = None,
    duration: str = "repeating",
    duration_in_months: int | None = 3,
    valid: bool = True,
    created: int = 1_700_000_000,
) -> dict[str, Any]:
    """A coupon: a percentage or an amount (with its currency) off, for a duration."""
    obj = example_object("coupon")
    obj.update(
        id=coupon_id,
        name=name,
        percent_off=percent_off,
        amount_off=amount_off,
        currency=currency,
        duration=duration,
        duration_in_months=duration_in_months if duration == "repeating" else None,
        valid=valid,
        created=created,
        redeem_by=None,
    )
    return obj


def promotion_code(
    promo_id: str,
    coupon_id: str,
    *,
    shape: ApiShape = ApiShape.CURRENT,
    code: str = "LAUNCH20",
    active: bool = True,
    created: int = 1_700_000_000,
) -> dict[str, Any]:
    """A customer-facing code for a coupon (`promotion.coupon` now, `coupon` before)."""
    obj = example_object("promotion_code")
    obj.update(id=promo_id, code=code, active=active, created=created, expires_at=None)
    if shape is ApiShape.CURRENT:
        obj["promotion"] = {"coupon": coupon_id, "type": "coupon"}
    else:
        obj.pop("promotion", None)
        obj.pop("customer_account", None)
        obj["coupon"] = coupon(coupon_id)
    return obj


def discount(
    di_id: str | None,
    customer: str | None,
    coupon_id: str,
    *,
    shape: ApiShape = ApiShape.CURRENT,
    subscription: str | None = None,
    promotion_code: str | None = None,
    start: int = 1_700_000_000,
    end: int | None = None,
    coupon_obj: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A discount of a customer (or of one of its subscriptions when `subscription`)."""
    obj = example_object("discount")
    obj.update(
        id=di_id,
        customer=customer,
        subscription=subscription,
        promotion_code=promotion_code,
        start=start,
        end=end,
    )
    if shape is ApiShape.CURRENT:
        obj["source"] = {"coupon": coupon_id, "type": "coupon"}
    else:
        obj.pop("source", None)
        obj.pop("customer_account", None)
        obj["coupon"] = coupon_obj or coupon(coupon_id)
    if di_id is None:
        obj.pop("id")  # discounts had no id before 2020-08-27
    return obj
