"""The dispatch table: one executor per command type."""

from __future__ import annotations

from workers.commands import credits, customers, payg, payment_methods, sessions, subscriptions
from workers.commands.context import Executor

EXECUTORS: dict[str, Executor] = {
    "customer.ensure": customers.ensure,
    "customer.update_billing_details": customers.update_billing_details,
    "checkout.create": sessions.checkout,
    "portal.create": sessions.portal,
    "setup_intent.create": sessions.setup_intent,
    "subscription.change_plan": subscriptions.change_plan,
    "subscription.cancel": subscriptions.cancel,
    "subscription.resume": subscriptions.resume,
    "invoice.preview": subscriptions.preview,
    "payment_method.attach": payment_methods.attach,
    "payment_method.detach": payment_methods.detach,
    "payment_method.set_default": payment_methods.set_default,
    "credits.grant": credits.grant,
    "payg.enable": payg.enable,
    "payg.disable": payg.disable,
}
