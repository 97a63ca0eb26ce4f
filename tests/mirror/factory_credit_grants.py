"""Stripe Billing credit grant objects (fixtures3 `billing.credit_grant`), in both shapes."""

from __future__ import annotations

from typing import Any

from domain.mirror.stripe_json import ApiShape
from domain.samples import example_object


def credit_grant(
    grant_id: str,
    customer: str,
    *,
    value: int = 5000,
    currency: str = "eur",
    credits: int | str | None = None,
    created: int = 1_700_000_000,
    expires_at: int | None = None,
    voided_at: int | None = None,
    name: str | None = "Launch credit",
    category: str = "promotional",
    shape: ApiShape = ApiShape.CURRENT,
) -> dict[str, Any]:
    """A monetary grant of `customer` on metered prices.

    Current shape: the customer as an id and a `priority`; legacy (pre-2025): the customer
    expanded, no priority. `credits` goes to `metadata.credits` (as Stripe sends it: text).
    """
    obj = example_object("billing.credit_grant")
    obj.update(
        id=grant_id,
        name=name,
        category=category,
        created=created,
        updated=created,
        effective_at=created,
        expires_at=expires_at,
        voided_at=voided_at,
        livemode=False,
    )
    obj["amount"] = {"type": "monetary", "monetary": {"currency": currency, "value": value}}
    obj["metadata"] = {} if credits is None else {"credits": str(credits)}
    if shape is ApiShape.LEGACY:
        obj["customer"] = {"id": customer, "object": "customer"}
        obj.pop("priority", None)
        obj.pop("customer_account", None)
    else:
        obj["customer"] = customer
        obj["applicability_config"] = {"scope": {"price_type": "metered"}}
    return obj
