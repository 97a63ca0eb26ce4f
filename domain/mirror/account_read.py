"""The account answer in one round trip: every select it needs, named, parameterised by the
account_ref alone, then the status built from their rows without another query.

Each select names the account's customer only through a scalar subquery on the account_ref
(`customer`), so none waits on another's answer: on Postgres they are folded into one
statement (ingest/read_account.py), elsewhere run one after another on one connection. The
fields other families add to the account answer come with their SQL form
(`Related.sql`); a field without one cannot be served this way (`account_plan` refuses it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, select, union

from domain.mirror.account_status import (
    chosen_pm_id,
    payment_methods_where,
    pm_summary,
    status_of,
    subscriptions_of,
)
from domain.mirror.entitlement import BillingStatus
from domain.mirror.families._read import Related
from domain.mirror.families.payment_methods import PaymentMethod
from domain.mirror.families.subscriptions import Subscription
from domain.mirror.tables import BillingAccount

REF = "account_ref"  # the one bound parameter of every select

# The account columns the answer shows or needs (never its raw Stripe object).
_ACCOUNT_COLUMNS: tuple[Any, ...] = (
    *(BillingAccount.id, BillingAccount.account_ref, BillingAccount.stripe_customer_id),
    *(BillingAccount.email, BillingAccount.name, BillingAccount.company_name),
    *(BillingAccount.vat_number, BillingAccount.kvk_number, BillingAccount.address_line1),
    *(BillingAccount.address_line2, BillingAccount.postal_code, BillingAccount.city),
    *(BillingAccount.state, BillingAccount.country, BillingAccount.currency),
    *(BillingAccount.default_payment_method_id, BillingAccount.deleted),
)


@dataclass(frozen=True)
class AccountFacts:
    """What the account answer shows: the account row, its status, the added fields."""

    account: Any
    status: BillingStatus
    added: dict[str, Any]


@dataclass(frozen=True)
class AccountPlan:
    """The named selects of one account answer and how to read their rows."""

    statements: dict[str, Select[Any]]
    related: Mapping[str, Related]
    parts: Mapping[str, Mapping[str, str]]  # added field -> {its query's key: statement name}

    def facts(
        self, found: Mapping[str, Sequence[Any]], *, grace_days: int, now: datetime
    ) -> AccountFacts | None:
        """The answer's facts from the rows of every statement (None: no such account)."""
        if not found["account"]:
            return None
        account = found["account"][0]
        subs = found["subscriptions"]
        pm_id = chosen_pm_id(account, subs)
        pm = next((p for p in found["payment_methods"] if p.id == pm_id), None)
        status = status_of(
            account.account_ref or "",
            account,
            subs,
            pm_summary(pm) if pm_id is not None else None,
            grace_days=grace_days,
            now=now,
        )
        added = {}
        for name, related in self.related.items():
            assert related.sql is not None  # account_plan checked
            value = related.sql.build({k: found[st] for k, st in self.parts[name].items()})
            added[name] = related.default() if value is None else value
        return AccountFacts(account, status, added)


def account_plan(related: Mapping[str, Related]) -> AccountPlan:
    """The selects of the account answer with these added fields (each needs its `sql`)."""
    ref = bindparam(REF, type_=BillingAccount.account_ref.type)
    of_ref = BillingAccount.account_ref == ref
    customer = select(BillingAccount.stripe_customer_id).where(of_ref).scalar_subquery()
    statements: dict[str, Select[Any]] = {
        "account": select(*_ACCOUNT_COLUMNS).where(of_ref),
        "subscriptions": subscriptions_of(customer),
        # Every candidate: the account's default and each subscription's (one is shown).
        "payment_methods": payment_methods_where(
            PaymentMethod.id.in_(
                union(
                    select(BillingAccount.default_payment_method_id).where(of_ref),
                    select(Subscription.default_payment_method_id).where(
                        Subscription.stripe_customer_id == customer
                    ),
                )
            )
        ),
    }
    parts: dict[str, dict[str, str]] = {}
    for name, r in related.items():
        if r.sql is None:
            raise ValueError(f"account field {name} has no SQL form (Related.sql)")
        for key, stmt in r.sql.queries(customer).items():
            statements[f"{name}.{key}"] = stmt
            parts.setdefault(name, {})[key] = f"{name}.{key}"
    return AccountPlan(statements, related, parts)
