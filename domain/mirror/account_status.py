"""The account status query: reads the mirror and applies the entitlement rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.mirror.entitlement import (
    BillingStatus,
    PaymentMethodSummary,
    SubscriptionFacts,
    billing_status,
    choose_subscription,
)
from domain.mirror.families.invoices import Invoice
from domain.mirror.families.payment_methods import PaymentMethod
from domain.mirror.families.subscriptions import Subscription
from domain.mirror.statuses import InvoiceStatus, PaymentMethodStatus
from domain.mirror.tables import BillingAccount
from domain.types import utcnow

DEFAULT_GRACE_DAYS = 7


# Only the columns the status needs (never the raw Stripe objects), as Core rows.
_PM_COLUMNS = (
    *(PaymentMethod.id, PaymentMethod.status, PaymentMethod.type, PaymentMethod.card_brand),
    *(PaymentMethod.card_last4, PaymentMethod.bank_last4, PaymentMethod.card_exp_month),
    PaymentMethod.card_exp_year,
)
_SUB_COLUMNS = (
    *(Subscription.id, Subscription.status, Subscription.plan_tier, Subscription.plan_interval),
    *(Subscription.price_id, Subscription.current_period_start, Subscription.current_period_end),
    *(Subscription.cancel_at_period_end, Subscription.stripe_created),
    Subscription.default_payment_method_id,
)


def _payment_method(session: Session, pm_id: str | None) -> PaymentMethodSummary | None:
    if pm_id is None:
        return None
    pm = session.execute(select(*_PM_COLUMNS).where(PaymentMethod.id == pm_id)).first()
    if pm is None or pm.status is PaymentMethodStatus.DETACHED:
        return None
    return PaymentMethodSummary(
        id=pm.id,
        type=pm.type,
        brand=pm.card_brand,
        last4=pm.card_last4 or pm.bank_last4,
        exp_month=pm.card_exp_month,
        exp_year=pm.card_exp_year,
    )


def _unpaid_since() -> Any:
    """Per subscription row, when its oldest open invoice with a failed attempt was created
    (a correlated subquery: the subscriptions and their unpaid invoices in one query)."""
    return (
        select(func.min(Invoice.stripe_created))
        .where(
            Invoice.subscription_id == Subscription.id,
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.attempt_count > 0,
        )
        .scalar_subquery()
        .label("unpaid_since")
    )


def account_status(
    session: Session,
    account_ref: str,
    *,
    grace_days: int = DEFAULT_GRACE_DAYS,
    now: datetime | None = None,
    account: BillingAccount | None = None,
) -> BillingStatus | None:
    """The billing status of an account, or None when the account is unknown.

    `account`: the account row when the caller read it already (one query less).
    """
    if account is None:
        account = session.execute(
            select(BillingAccount).where(BillingAccount.account_ref == account_ref)
        ).scalar_one_or_none()
    if account is None:
        return None
    subs: list[Any] = []
    if account.stripe_customer_id is not None:
        subs = list(
            session.execute(
                select(*_SUB_COLUMNS, _unpaid_since()).where(
                    Subscription.stripe_customer_id == account.stripe_customer_id
                )
            )
        )
    facts = [
        SubscriptionFacts(
            id=s.id,
            status=s.status,
            plan_tier=s.plan_tier,
            plan_interval=s.plan_interval,
            price_id=s.price_id,
            current_period_start=s.current_period_start,
            current_period_end=s.current_period_end,
            cancel_at_period_end=s.cancel_at_period_end,
            created=s.stripe_created,
            unpaid_since=s.unpaid_since,
        )
        for s in subs
    ]
    chosen = choose_subscription(facts)
    row = next((s for s in subs if chosen is not None and s.id == chosen.id), None)
    pm_id = account.default_payment_method_id or (row.default_payment_method_id if row else None)
    return billing_status(
        account_ref,
        facts,
        _payment_method(session, pm_id),
        deleted=account.deleted,
        now=now or utcnow(),
        grace=timedelta(days=grace_days),
    )
