"""What an executor gets (the command, the gateway, mirror look-ups) and what it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain.commands.params import Params
from domain.mirror.accounts import link_account
from domain.mirror.choice import SubscriptionRef, live_speaking_subscription
from domain.mirror.families.subscriptions import Subscription
from domain.mirror.store import key, lock_keys
from domain.mirror.tables import BillingAccount
from domain.plans import Plan, PlanCatalog
from domain.types import utcnow
from workers.stripe_gateway import Obj, StripeFailure, StripeGateway


def command_error(code: str, message: str) -> StripeFailure:
    """A permanent failure decided on our side (no Stripe call would help)."""
    return StripeFailure(
        transient=False,
        error={"type": "command_error", "code": code, "decline_code": None, "message": message},
    )


@dataclass(frozen=True)
class MirrorWrite:
    """A Stripe object a command got back, to apply to the mirror as its event would."""

    event_type: str
    obj: Obj
    previous_attributes: Obj | None = None


LocalWrite = Callable[[Session, datetime], None]


@dataclass
class Outcome:
    """The command's result for the product, and the mirror writes that go with it.

    `local` writes run in the transaction that records the result (after the lease check),
    so our own state (e.g. the pay-as-you-go flag) changes exactly when the command succeeds.
    """

    result: Obj
    mirror: list[MirrorWrite] = field(default_factory=list)
    local: list[LocalWrite] = field(default_factory=list)


@dataclass(frozen=True)
class ExecContext:
    """One attempt of one command."""

    command_id: str
    account_ref: str
    idempotency_key: str
    gateway: StripeGateway
    sessions: sessionmaker[Session]
    catalog: PlanCatalog
    # The command's last attempt: a transient failure now makes it dead, not retried.
    final_attempt: bool = False

    def key(self, step: str) -> str:
        """The idempotency key of one Stripe call of this command (same on every attempt)."""
        return f"{self.idempotency_key}:{step}"

    def plan(self, tier: str, interval: str) -> Plan:
        plan = self.catalog.find(tier, interval)
        if plan is None:  # validated at enqueue; the catalog may have changed since
            raise command_error("unknown_plan", f"no plan {tier}/{interval} in the catalog")
        return plan

    def customer_id(self) -> str | None:
        """The account's Stripe customer as the mirror knows it."""
        with self.sessions() as session:
            return session.execute(
                select(BillingAccount.stripe_customer_id).where(
                    BillingAccount.account_ref == self.account_ref
                )
            ).scalar_one_or_none()

    def require_customer(self) -> str:
        customer = self.customer_id()
        if customer is None:
            raise command_error(
                "no_customer", "the account has no Stripe customer yet (run customer.ensure)"
            )
        return customer

    def link_customer(self, customer_id: str) -> None:
        """Record the account's customer at once, in its own transaction (it is a fact)."""
        with self.sessions.begin() as session:
            lock_keys(session, [key("account", self.account_ref), key("customer", customer_id)])
            link_account(
                session, account_ref=self.account_ref, customer_id=customer_id, now=utcnow()
            )

    def subscription_id(self, given: str | None, customer_id: str) -> str:
        """The subscription to act on: the one given, else the one that speaks for the
        account (the read API's choice), if it is live."""
        if given is not None:
            return given
        with self.sessions() as session:
            rows = session.execute(
                select(Subscription.id, Subscription.status, Subscription.stripe_created).where(
                    Subscription.stripe_customer_id == customer_id
                )
            ).all()
        chosen = live_speaking_subscription(SubscriptionRef(*row) for row in rows)
        if chosen is None:
            raise command_error("no_subscription", "the account has no live subscription")
        return chosen.id

    def owned_subscription(self, given: str | None) -> tuple[str, Obj]:
        """(customer id, subscription) after checking the subscription is the account's."""
        customer = self.require_customer()
        subscription = self.gateway.retrieve_subscription(self.subscription_id(given, customer))
        if ref_id(subscription.get("customer")) != customer:
            raise command_error("subscription_not_found", "no such subscription on this account")
        return customer, subscription


def ref_id(value: Any) -> str | None:
    """The id of an expandable field (a string id or an expanded object)."""
    if isinstance(value, dict):
        return value.get("id")
    return value if isinstance(value, str) else None


Executor = Callable[[ExecContext, Any], Outcome]
__all__ = ["ExecContext", "Executor", "MirrorWrite", "Outcome", "Params", "command_error"]
