"""The account status query: reads the mirror and applies the entitlement rule."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
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
    return pm_summary(
        session.execute(select(*_PM_COLUMNS).where(PaymentMethod.id == pm_id)).first()
    )


def pm_summary(pm: Any | None) -> PaymentMethodSummary | None:
    """A payment method row (`_PM_COLUMNS`) as shown; None when missing or detached."""
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
        subs = list(session.execute(subscriptions_of(account.stripe_customer_id)))
    pm_id = chosen_pm_id(account, subs)
    return status_of(
        account_ref, account, subs, _payment_method(session, pm_id), grace_days=grace_days, now=now
    )


def _facts(subs: Sequence[Any]) -> list[SubscriptionFacts]:
    return [
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


def chosen_pm_id(account: Any, subs: Sequence[Any]) -> str | None:
    """The payment method shown: the customer's default, else the chosen subscription's.

    `subs`: the customer's subscription rows (`_SUB_COLUMNS` and `unpaid_since`)."""
    chosen = choose_subscription(_facts(subs))
    row = next((s for s in subs if chosen is not None and s.id == chosen.id), None)
    return account.default_payment_method_id or (row.default_payment_method_id if row else None)


def status_of(
    account_ref: str,
    account: Any,
    subs: Sequence[Any],
    payment_method: PaymentMethodSummary | None,
    *,
    grace_days: int,
    now: datetime | None,
) -> BillingStatus:
    """The billing status from rows already read (pure: no query)."""
    return billing_status(
        account_ref,
        _facts(subs),
        payment_method,
        deleted=account.deleted,
        now=now or utcnow(),
        grace=timedelta(days=grace_days),
    )


def subscriptions_of(customer: Any) -> Any:
    """The select of a customer's subscription rows as `account_status` reads them."""
    return select(*_SUB_COLUMNS, _unpaid_since()).where(Subscription.stripe_customer_id == customer)


def payment_methods_where(*conditions: Any) -> Any:
    """The select of the payment method rows (`pm_summary`'s columns) meeting any condition."""
    return select(*_PM_COLUMNS).where(or_(*conditions))
