"""Shape mirror rows into read API bodies: chosen fields only, never a raw Stripe object."""

from __future__ import annotations

from datetime import datetime

from domain.mirror.entitlement import BillingStatus, PaymentMethodSummary
from domain.mirror.families.invoices import Invoice
from domain.mirror.families.payment_methods import PaymentMethod
from domain.mirror.families.subscriptions import Subscription, SubscriptionItem
from domain.mirror.tables import BillingAccount
from ingest.read_models import (
    AccountOut,
    Address,
    BillingOut,
    CustomerOut,
    InvoiceOut,
    Money,
    PaymentMethodBrief,
    PaymentMethodOut,
    SubscriptionItemOut,
    SubscriptionOut,
)


def _money(amount: int | None, currency: str | None) -> Money | None:
    return Money(amount=amount, currency=currency) if amount is not None and currency else None


def _pm_brief(pm: PaymentMethodSummary | None) -> PaymentMethodBrief | None:
    if pm is None:
        return None
    return PaymentMethodBrief(
        id=pm.id,
        type=pm.type,
        brand=pm.brand,
        last4=pm.last4,
        exp_month=pm.exp_month,
        exp_year=pm.exp_year,
    )


def account_out(account: BillingAccount, status: BillingStatus, now: datetime) -> AccountOut:
    """The account answer: billing status plus customer details."""
    in_grace = bool(status.entitled and status.grace_until is not None and now < status.grace_until)
    return AccountOut(
        account_ref=status.account_ref,
        billing=BillingOut(
            subscription_id=status.subscription_id,
            plan_tier=status.plan_tier,
            plan_interval=status.plan_interval,
            status=status.status.value if status.status else None,
            entitled=status.entitled,
            in_grace_period=in_grace,
            grace_until=status.grace_until,
            current_period_end=status.current_period_end,
            cancel_at_period_end=status.cancel_at_period_end,
            default_payment_method=_pm_brief(status.default_payment_method),
        ),
        customer=CustomerOut(
            stripe_customer_id=account.stripe_customer_id,
            email=account.email,
            name=account.name,
            company_name=account.company_name,
            vat_number=account.vat_number,
            kvk_number=account.kvk_number,
            address=Address(
                line1=account.address_line1,
                line2=account.address_line2,
                postal_code=account.postal_code,
                city=account.city,
                state=account.state,
                country=account.country,
            ),
            country=account.country,
            currency=account.currency,
            deleted=account.deleted,
        ),
    )


def _item_out(item: SubscriptionItem) -> SubscriptionItemOut:
    return SubscriptionItemOut(
        id=item.id,
        price_id=item.price_id,
        plan_tier=item.plan_tier,
        plan_interval=item.plan_interval,
        quantity=item.quantity,
        unit_amount=_money(item.unit_amount, item.currency),
    )


def subscription_out(sub: Subscription, items: list[SubscriptionItem]) -> SubscriptionOut:
    """One subscription with its items."""
    return SubscriptionOut(
        id=sub.id,
        status=sub.status.value,
        plan_tier=sub.plan_tier,
        plan_interval=sub.plan_interval,
        price_id=sub.price_id,
        quantity=sub.quantity,
        unit_amount=_money(sub.unit_amount, sub.currency),
        current_period_start=sub.current_period_start,
        current_period_end=sub.current_period_end,
        cancel_at_period_end=sub.cancel_at_period_end,
        cancel_at=sub.cancel_at,
        canceled_at=sub.canceled_at,
        ended_at=sub.ended_at,
        trial_start=sub.trial_start,
        trial_end=sub.trial_end,
        default_payment_method_id=sub.default_payment_method_id,
        latest_invoice_id=sub.latest_invoice_id,
        created=sub.stripe_created,
        items=[_item_out(i) for i in items],
    )


def invoice_out(inv: Invoice) -> InvoiceOut:
    """One invoice."""
    return InvoiceOut(
        id=inv.id,
        number=inv.number,
        status=inv.status.value,
        subscription_id=inv.subscription_id,
        currency=inv.currency,
        amount_due=inv.amount_due,
        amount_paid=inv.amount_paid,
        amount_remaining=inv.amount_remaining,
        subtotal=inv.subtotal,
        total=inv.total,
        billing_reason=inv.billing_reason,
        hosted_invoice_url=inv.hosted_invoice_url,
        invoice_pdf=inv.invoice_pdf,
        paid_at=inv.paid_at,
        attempt_count=inv.attempt_count,
        next_payment_attempt=inv.next_payment_attempt,
        period_start=inv.period_start,
        period_end=inv.period_end,
        due_date=inv.due_date,
        created=inv.stripe_created,
    )


def payment_method_out(pm: PaymentMethod) -> PaymentMethodOut:
    """One payment method, without the raw Stripe object."""
    return PaymentMethodOut(
        id=pm.id,
        type=pm.type,
        status=pm.status.value,
        is_default=pm.is_default,
        card_brand=pm.card_brand,
        card_last4=pm.card_last4,
        card_exp_month=pm.card_exp_month,
        card_exp_year=pm.card_exp_year,
        bank_code=pm.bank_code,
        bank_last4=pm.bank_last4,
        bank_country=pm.bank_country,
        ideal_bank=pm.ideal_bank,
        ideal_bic=pm.ideal_bic,
    )
