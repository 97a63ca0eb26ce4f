"""What `billing send-event` can send: single event types and whole lifecycles (scenarios).

Single types and every step of a scenario are built for one account (domain.sample_account),
so they link up in the mirror: `GET /v1/accounts/<ref>` shows the customer, subscription,
plan and invoice afterwards. Events of a scenario get increasing `created` seconds, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from domain import sample_account as objects
from domain.sample_account import SampleAccount
from domain.samples import build_event, example_object, resource_for

Builder = Callable[[SampleAccount], dict[str, Any]]


@dataclass(frozen=True)
class Step:
    event_type: str
    build: Builder
    previous: dict[str, Any] | None = None


_ACTIVE = partial(objects.subscription, status="active")
_CANCELING = partial(objects.subscription, status="active", cancel_at_period_end=True)
_PAST_DUE = partial(objects.subscription, status="past_due")
_CANCELED = partial(objects.subscription, status="canceled")

# Event type -> the account's object it carries (what a single `send-event TYPE` sends).
SINGLE: dict[str, Builder] = {
    "checkout.session.completed": objects.checkout_session,
    "customer.created": objects.customer,
    "customer.updated": objects.customer,
    "payment_method.attached": objects.payment_method,
    "customer.subscription.created": _ACTIVE,
    "customer.subscription.updated": _ACTIVE,
    "customer.subscription.deleted": _CANCELED,
    "invoice.created": partial(objects.invoice, status="draft"),
    "invoice.finalized": partial(objects.invoice, status="open"),
    "invoice.paid": objects.invoice,
    "invoice.payment_succeeded": objects.invoice,
    "invoice.payment_failed": partial(objects.invoice, status="open"),
}

SCENARIOS: dict[str, tuple[str, tuple[Step, ...]]] = {
    "signup": (
        "checkout completed, customer, card, active subscription, first invoice paid",
        (
            Step("checkout.session.completed", objects.checkout_session),
            Step("customer.created", objects.customer),
            Step("payment_method.attached", objects.payment_method),
            Step("customer.subscription.created", _ACTIVE),
            Step("invoice.paid", objects.invoice),
        ),
    ),
    "checkout-to-cancel": (
        "signup, then cancel at period end, then the subscription ends",
        (
            Step("checkout.session.completed", objects.checkout_session),
            Step("customer.created", objects.customer),
            Step("payment_method.attached", objects.payment_method),
            Step("customer.subscription.created", _ACTIVE),
            Step("invoice.paid", objects.invoice),
            Step(
                "customer.subscription.updated",
                _CANCELING,
                previous={"cancel_at_period_end": False},
            ),
            Step("customer.subscription.deleted", _CANCELED),
        ),
    ),
    "payment-failed": (
        "customer with an active subscription whose invoice payment fails: past_due",
        (
            Step("customer.created", objects.customer),
            Step("customer.subscription.created", _ACTIVE),
            Step("invoice.payment_failed", partial(objects.invoice, status="open")),
            Step("customer.subscription.updated", _PAST_DUE, previous={"status": "active"}),
        ),
    ),
}


def scenario_events(name: str, acct: SampleAccount) -> list[dict[str, Any]]:
    """The events of a scenario, in order, `created` one second apart ending at acct.now."""
    _, steps = SCENARIOS[name]
    first = acct.now - len(steps) + 1
    return [
        build_event(
            step.event_type,
            step.build(acct),
            created=first + i,
            previous_attributes=step.previous,
        )
        for i, step in enumerate(steps)
    ]


def single_event(event_type: str, acct: SampleAccount) -> dict[str, Any]:
    """One event for the account: its own object when known, else Stripe's example object
    with the account's customer put in (KeyError when there is no example for the type)."""
    builder = SINGLE.get(event_type)
    if builder is not None:
        return build_event(event_type, builder(acct), created=acct.now)
    resource = resource_for(event_type)
    if resource is None:
        raise KeyError(f"no example object for event type {event_type!r}; see --list")
    obj = example_object(resource)
    if "customer" in obj:
        obj["customer"] = acct.customer_id
    return build_event(event_type, obj, created=acct.now)
