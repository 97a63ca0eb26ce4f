"""Response bodies of the read API: pydantic, so the OpenAPI schemas are this very code.

The account answer is written out here (it joins the billing status with the customer
details), plus the fields other families add to it (`account_model`); a family's list body
is derived from its declaration (`listing_body`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, create_model

from domain.mirror.families._read import Listing, Related


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


def account_model(added: Mapping[str, Related]) -> type[AccountOut]:
    """The account answer with the fields other families add to it (families.ADDED)."""
    if not added:
        return AccountOut
    fields: dict[str, Any] = {
        name: (r.type, Field(..., description=r.doc or None)) for name, r in added.items()
    }
    return create_model("AccountOut", __base__=AccountOut, __doc__=AccountOut.__doc__, **fields)


def listing_body(listing: Listing) -> type[BaseModel]:
    """A family list route's body: `{title}Page` (data, has_more, next_cursor) when
    paginated, else `{title}List` (data); the rows' model comes from the family's table."""
    title, row = listing.shape.title, listing.shape.model
    if listing.paginated:
        return create_model(
            f"{title}Page",
            data=(list[row], ...),  # type: ignore[valid-type]
            has_more=(bool, ...),
            next_cursor=(str | None, ...),
        )
    return create_model(f"{title}List", data=(list[row], ...))  # type: ignore[valid-type]


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
