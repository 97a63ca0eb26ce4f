"""The dispatch table: one handler per Stripe event type.

A handler applies one event to the billing mirror inside the caller's transaction; it never
commits. Event types without a handler are stored and marked `ignored`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from domain.envelope import EventEnvelope
from domain.mirror.batch import Targets

Handler = Callable[[Session, EventEnvelope], None]
TargetsOf = Callable[[EventEnvelope], Targets]

# Imported after Handler exists: the family modules only need domain code, not this module.
from workers.handlers import (  # noqa: E402
    checkout,
    customers,
    invoices,
    payment_methods,
    subscriptions,
)

HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": checkout.apply_checkout_event,
    "checkout.session.async_payment_succeeded": checkout.apply_checkout_event,
    "checkout.session.async_payment_failed": checkout.apply_checkout_event,
    "checkout.session.expired": checkout.apply_checkout_event,
    "customer.subscription.created": subscriptions.apply_subscription_event,
    "customer.subscription.updated": subscriptions.apply_subscription_event,
    "customer.subscription.deleted": subscriptions.apply_subscription_event,
    "customer.subscription.paused": subscriptions.apply_subscription_event,
    "customer.subscription.resumed": subscriptions.apply_subscription_event,
    "customer.subscription.trial_will_end": subscriptions.apply_subscription_event,
    "invoice.created": invoices.apply_invoice_event,
    "invoice.finalized": invoices.apply_invoice_event,
    "invoice.paid": invoices.apply_invoice_event,
    "invoice.payment_succeeded": invoices.apply_invoice_event,
    "invoice.payment_failed": invoices.apply_invoice_event,
    "invoice.payment_action_required": invoices.apply_invoice_event,
    "invoice.voided": invoices.apply_invoice_event,
    "invoice.marked_uncollectible": invoices.apply_invoice_event,
    "invoice.upcoming": invoices.apply_invoice_event,
    "payment_method.attached": payment_methods.apply_payment_method_event,
    "payment_method.detached": payment_methods.apply_payment_method_event,
    "payment_method.updated": payment_methods.apply_payment_method_event,
    "payment_method.automatically_updated": payment_methods.apply_payment_method_event,
    "customer.created": customers.apply_customer_event,
    "customer.updated": customers.apply_customer_event,
    "customer.deleted": customers.apply_customer_event,
}

# What each handler will lock and read, so a batch of events can take all its locks and
# stamps in a few queries before the handlers run (see workers.processor).
_TARGETS_OF: dict[Handler, TargetsOf] = {
    checkout.apply_checkout_event: checkout.checkout_targets,
    subscriptions.apply_subscription_event: subscriptions.subscription_targets,
    invoices.apply_invoice_event: invoices.invoice_targets,
    payment_methods.apply_payment_method_event: payment_methods.payment_method_targets,
    customers.apply_customer_event: customers.customer_targets,
}
TARGETS: dict[str, TargetsOf] = {t: _TARGETS_OF[h] for t, h in HANDLERS.items()}
