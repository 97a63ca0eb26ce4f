"""Pure state transitions: typed view + current row stamp -> new row values, or None (skip).

No session, no clock, no logging: the handlers own I/O and add `updated_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.mirror.customer_views import CustomerView, PaymentMethodView
from domain.mirror.ordering import Stamp, supersedes
from domain.mirror.ranks import payment_method_detached
from domain.mirror.statuses import (
    CheckoutStatus,
    PaymentMethodStatus,
)
from domain.mirror.views import CheckoutView, InvoiceView, ItemView, SubscriptionView
from domain.plans import PlanCatalog

Row = dict[str, Any]


def _stamp_cols(stamp: Stamp) -> Row:
    return {
        "last_event_created": stamp.created,
        "last_event_rank": stamp.rank,
        "last_event_id": stamp.event_id,
    }


@dataclass(frozen=True, slots=True)
class SubscriptionChange:
    """New values for a subscription row and the full set of its item rows."""

    row: Row
    items: tuple[Row, ...]


def _item_row(item: ItemView, subscription_id: str, catalog: PlanCatalog, stamp: Stamp) -> Row:
    plan = catalog.lookup(item.price_id, item.interval)
    return {
        "id": item.id,
        "subscription_id": subscription_id,
        "price_id": item.price_id,
        "plan_tier": plan.tier,
        "plan_interval": plan.interval,
        "quantity": item.quantity,
        "unit_amount": item.unit_amount,
        "currency": item.currency,
        "current_period_start": item.current_period_start,
        "current_period_end": item.current_period_end,
        "raw": item.raw,
        **_stamp_cols(stamp),
    }


def subscription_transition(
    view: SubscriptionView, stamp: Stamp, current: Stamp | None, catalog: PlanCatalog
) -> SubscriptionChange | None:
    """The subscription's new state, or None when the row already reflects a later event."""
    if not supersedes(stamp, current):
        return None
    primary = view.primary_item
    plan = catalog.lookup(
        primary.price_id if primary else None, primary.interval if primary else None
    )
    row: Row = {
        "id": view.id,
        "stripe_customer_id": view.customer_id,
        "status": view.status,
        "price_id": primary.price_id if primary else None,
        "plan_tier": plan.tier,
        "plan_interval": plan.interval,
        "quantity": primary.quantity if primary else None,
        "unit_amount": primary.unit_amount if primary else None,
        "currency": view.currency or (primary.currency if primary else None),
        "current_period_start": view.current_period_start,
        "current_period_end": view.current_period_end,
        "cancel_at_period_end": view.cancel_at_period_end,
        "cancel_at": view.cancel_at,
        "canceled_at": view.canceled_at,
        "ended_at": view.ended_at,
        "trial_start": view.trial_start,
        "trial_end": view.trial_end,
        "default_payment_method_id": view.default_payment_method_id,
        "latest_invoice_id": view.latest_invoice_id,
        "stripe_created": view.created,
        "raw": view.raw,
        **_stamp_cols(stamp),
    }
    items = tuple(_item_row(i, view.id, catalog, stamp) for i in view.items)
    return SubscriptionChange(row, items)


def invoice_transition(view: InvoiceView, stamp: Stamp, current: Stamp | None) -> Row | None:
    """The invoice's new state; None for stale events and for id-less upcoming previews."""
    if view.id is None or not supersedes(stamp, current):
        return None
    return {
        "id": view.id,
        "stripe_customer_id": view.customer_id,
        "subscription_id": view.subscription_id,
        "number": view.number,
        "status": view.status,
        "currency": view.currency,
        "amount_due": view.amount_due,
        "amount_paid": view.amount_paid,
        "amount_remaining": view.amount_remaining,
        "subtotal": view.subtotal,
        "total": view.total,
        "billing_reason": view.billing_reason,
        "hosted_invoice_url": view.hosted_invoice_url,
        "invoice_pdf": view.invoice_pdf,
        "paid_at": view.paid_at,
        "attempt_count": view.attempt_count,
        "next_payment_attempt": view.next_payment_attempt,
        "period_start": view.period_start,
        "period_end": view.period_end,
        "due_date": view.due_date,
        "stripe_created": view.created,
        "raw": view.raw,
        **_stamp_cols(stamp),
    }


def payment_method_transition(
    view: PaymentMethodView,
    event_type: str,
    stamp: Stamp,
    current: Stamp | None,
    *,
    known_customer_id: str | None,
    default_payment_method_id: str | None,
) -> Row | None:
    """The payment method's new state; a detached one keeps the customer it belonged to."""
    if not supersedes(stamp, current):
        return None
    detached = payment_method_detached(view, event_type)
    return {
        "id": view.id,
        "stripe_customer_id": view.customer_id or known_customer_id,
        "status": PaymentMethodStatus.DETACHED if detached else PaymentMethodStatus.ATTACHED,
        "type": view.type,
        "card_brand": view.card_brand,
        "card_last4": view.card_last4,
        "card_exp_month": view.card_exp_month,
        "card_exp_year": view.card_exp_year,
        "bank_code": view.bank_code,
        "bank_last4": view.bank_last4,
        "bank_country": view.bank_country,
        "ideal_bank": view.ideal_bank,
        "ideal_bic": view.ideal_bic,
        "is_default": not detached and view.id == default_payment_method_id,
        "raw": view.raw,
        **_stamp_cols(stamp),
    }


def checkout_transition(
    view: CheckoutView, event_type: str, stamp: Stamp, current: Stamp | None
) -> Row | None:
    """The checkout session's new state, or None when stale."""
    if not supersedes(stamp, current):
        return None
    expired = event_type == "checkout.session.expired"
    status = CheckoutStatus.EXPIRED if expired else view.status
    return {
        "id": view.id,
        "account_ref": view.account_ref,
        "stripe_customer_id": view.customer_id,
        "subscription_id": view.subscription_id,
        "mode": view.mode,
        "status": status,
        "payment_status": view.payment_status,
        "amount_total": view.amount_total,
        "currency": view.currency,
        "stripe_created": view.created,
        "raw": view.raw,
        **_stamp_cols(stamp),
    }


def customer_transition(
    view: CustomerView, stamp: Stamp, current: Stamp | None, *, deleted: bool
) -> Row | None:
    """New customer details for the account row (links are handled separately), or None."""
    if not supersedes(stamp, current):
        return None
    return {
        "email": view.email,
        "name": view.name,
        "company_name": view.company_name,
        "vat_number": view.vat_number,
        "kvk_number": view.kvk_number,
        "address_line1": view.address_line1,
        "address_line2": view.address_line2,
        "postal_code": view.postal_code,
        "city": view.city,
        "state": view.state,
        "country": view.country,
        "currency": view.currency,
        "default_payment_method_id": view.default_payment_method_id,
        "deleted": deleted,
        "raw": view.raw,
        **_stamp_cols(stamp),
    }
