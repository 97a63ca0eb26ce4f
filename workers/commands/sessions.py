"""checkout.create, portal.create, setup_intent.create: hosted pages and client secrets."""

from __future__ import annotations

from domain.commands.params import CheckoutCreate, PortalCreate, SetupIntentCreate
from workers.commands.context import ExecContext, Outcome
from workers.commands.customers import ensure_customer


def checkout(ctx: ExecContext, p: CheckoutCreate) -> Outcome:
    """A subscription Checkout session for the account's (possibly new) customer."""
    plan = ctx.plan(p.tier, p.interval)
    customer_id, _ = ensure_customer(ctx)
    session = ctx.gateway.create_checkout_session(
        {
            "mode": "subscription",
            "customer": customer_id,
            # The link Stripe hands back in checkout.session.completed, whatever came first.
            "client_reference_id": ctx.account_ref,
            "line_items": [{"price": plan.price_id, "quantity": p.quantity}],
            "payment_method_types": list(p.payment_method_types),
            "success_url": str(p.success_url),
            "cancel_url": str(p.cancel_url),
            "allow_promotion_codes": p.allow_promotion_codes,
            "metadata": {"account_ref": ctx.account_ref, "command_id": ctx.command_id},
            "subscription_data": {"metadata": {"account_ref": ctx.account_ref}},
        },
        key=ctx.key("checkout"),
    )
    return Outcome(
        {
            "checkout_session_id": session["id"],
            "url": session.get("url"),
            "customer_id": customer_id,
            "expires_at": session.get("expires_at"),
        }
    )


def portal(ctx: ExecContext, p: PortalCreate) -> Outcome:
    """A billing portal session; its URL is short-lived, so it is created on demand."""
    customer_id = ctx.require_customer()
    session = ctx.gateway.create_portal_session(
        {"customer": customer_id, "return_url": str(p.return_url)}, key=ctx.key("portal")
    )
    return Outcome({"portal_session_id": session["id"], "url": session.get("url")})


def setup_intent(ctx: ExecContext, p: SetupIntentCreate) -> Outcome:
    """A SetupIntent whose client secret the front end uses to collect a payment method."""
    customer_id, _ = ensure_customer(ctx)
    intent = ctx.gateway.create_setup_intent(
        {
            "customer": customer_id,
            "payment_method_types": list(p.payment_method_types),
            "usage": p.usage,
            "metadata": {"account_ref": ctx.account_ref},
        },
        key=ctx.key("setup_intent"),
    )
    return Outcome(
        {
            "setup_intent_id": intent["id"],
            "client_secret": intent.get("client_secret"),
            "status": intent.get("status"),
        }
    )
