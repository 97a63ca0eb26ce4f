"""Shape the account into its read API body: chosen fields only, never a raw Stripe object.

A family's rows are shaped by their own declaration (domain.mirror.families._read).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.mirror.account_read import AccountFacts
from domain.mirror.entitlement import BillingStatus, PaymentMethodSummary
from domain.mirror.tables import BillingAccount
from ingest.read_models import AccountOut, Address, BillingOut, CustomerOut, PaymentMethodBrief


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


def _pm_body(pm: PaymentMethodSummary | None) -> dict[str, Any] | None:
    if pm is None:
        return None
    return {
        "id": pm.id,
        "type": pm.type,
        "brand": pm.brand,
        "last4": pm.last4,
        "exp_month": pm.exp_month,
        "exp_year": pm.exp_year,
    }


def account_body(facts: AccountFacts, now: datetime) -> dict[str, Any]:
    """The account answer as `AccountOut` (with the added fields) dumps it, built directly:
    no pydantic per request. Datetimes stay datetimes (orjson with OPT_UTC_Z writes them as
    pydantic does); tests/read check the two agree."""
    status, account = facts.status, facts.account
    in_grace = bool(status.entitled and status.grace_until is not None and now < status.grace_until)
    return {
        "account_ref": status.account_ref,
        "billing": {
            "subscription_id": status.subscription_id,
            "plan_tier": status.plan_tier,
            "plan_interval": status.plan_interval,
            "status": status.status.value if status.status else None,
            "entitled": status.entitled,
            "in_grace_period": in_grace,
            "grace_until": status.grace_until,
            "current_period_end": status.current_period_end,
            "cancel_at_period_end": status.cancel_at_period_end,
            "default_payment_method": _pm_body(status.default_payment_method),
        },
        "customer": {
            "stripe_customer_id": account.stripe_customer_id,
            "email": account.email,
            "name": account.name,
            "company_name": account.company_name,
            "vat_number": account.vat_number,
            "kvk_number": account.kvk_number,
            "address": {
                "line1": account.address_line1,
                "line2": account.address_line2,
                "postal_code": account.postal_code,
                "city": account.city,
                "state": account.state,
                "country": account.country,
            },
            "country": account.country,
            "currency": account.currency,
            "deleted": account.deleted,
        },
        **facts.added,
    }
