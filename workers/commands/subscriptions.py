"""subscription.change_plan, .cancel, .resume and invoice.preview."""

from __future__ import annotations

from domain.commands.params import (
    InvoicePreview,
    SubscriptionCancel,
    SubscriptionChangePlan,
    SubscriptionResume,
)
from workers.commands.context import ExecContext, MirrorWrite, Outcome, command_error, ref_id
from workers.stripe_gateway import Obj


def _item(subscription: Obj) -> Obj:
    items = (subscription.get("items") or {}).get("data") or []
    if not items:
        raise command_error("no_subscription_item", "the subscription has no items")
    return dict(items[0])


def _summary(subscription: Obj) -> Obj:
    item = _item(subscription)
    return {
        "subscription_id": subscription["id"],
        "status": subscription.get("status"),
        "price_id": ref_id(item.get("price")),
        "cancel_at_period_end": subscription.get("cancel_at_period_end"),
        "cancel_at": subscription.get("cancel_at"),
        "canceled_at": subscription.get("canceled_at"),
    }


def change_plan(ctx: ExecContext, p: SubscriptionChangePlan) -> Outcome:
    """Switch price now (with proration) or at the period end (through a schedule)."""
    plan = ctx.plan(p.tier, p.interval)
    _, subscription = ctx.owned_subscription(p.subscription_id)
    item = _item(subscription)
    if p.when == "now":
        updated = ctx.gateway.update_subscription(
            subscription["id"],
            {
                "items": [{"id": item["id"], "price": plan.price_id}],
                "proration_behavior": p.proration_behavior,
            },
            key=ctx.key("change"),
        )
        result = {**_summary(updated), "effective": "now"}
        return Outcome(result, [MirrorWrite("customer.subscription.updated", updated)])
    schedule_id = ref_id(subscription.get("schedule"))
    if schedule_id is None:
        schedule = ctx.gateway.create_schedule(
            {"from_subscription": subscription["id"]}, key=ctx.key("schedule")
        )
        schedule_id = schedule["id"]
    period_end = item.get("current_period_end") or subscription.get("current_period_end")
    quantity = item.get("quantity") or 1
    ctx.gateway.update_schedule(
        schedule_id,
        {
            "end_behavior": "release",
            "phases": [
                {
                    "items": [{"price": ref_id(item.get("price")), "quantity": quantity}],
                    "start_date": item.get("current_period_start")
                    or subscription.get("current_period_start"),
                    "end_date": period_end,
                },
                # `duration`, not `iterations`: Stripe removed `iterations` in 2025-08-27
                # (deprecated since 2025-07-30.basil). One interval of the new plan, then the
                # schedule releases the subscription, which renews on the new price.
                {
                    "items": [{"price": plan.price_id, "quantity": quantity}],
                    "duration": {"interval": plan.interval, "interval_count": 1},
                },
            ],
        },
        key=ctx.key("schedule_phases"),
    )
    return Outcome(
        {
            "subscription_id": subscription["id"],
            "schedule_id": schedule_id,
            "price_id": plan.price_id,
            "effective": "period_end",
            "effective_at": period_end,
        }
    )


def cancel(ctx: ExecContext, p: SubscriptionCancel) -> Outcome:
    """Cancel at the period end (reversible with subscription.resume) or now."""
    _, subscription = ctx.owned_subscription(p.subscription_id)
    if p.when == "now":
        done = ctx.gateway.cancel_subscription(
            subscription["id"],
            {"invoice_now": p.invoice_now, "prorate": p.prorate},
            key=ctx.key("cancel"),
        )
    else:
        done = ctx.gateway.update_subscription(
            subscription["id"], {"cancel_at_period_end": True}, key=ctx.key("cancel")
        )
    return Outcome(_summary(done), [MirrorWrite("customer.subscription.updated", done)])


def resume(ctx: ExecContext, p: SubscriptionResume) -> Outcome:
    """Undo a pending cancellation at the period end."""
    _, subscription = ctx.owned_subscription(p.subscription_id)
    if subscription.get("status") == "canceled":
        raise command_error("subscription_canceled", "a canceled subscription cannot resume")
    done = ctx.gateway.update_subscription(
        subscription["id"], {"cancel_at_period_end": False}, key=ctx.key("resume")
    )
    return Outcome(_summary(done), [MirrorWrite("customer.subscription.updated", done)])


def preview(ctx: ExecContext, p: InvoicePreview) -> Outcome:
    """The next invoice if the subscription moved to this plan now (amounts in cents)."""
    plan = ctx.plan(p.tier, p.interval)
    customer_id, subscription = ctx.owned_subscription(p.subscription_id)
    invoice = ctx.gateway.preview_invoice(
        {
            "customer": customer_id,
            "subscription": subscription["id"],
            "subscription_details": {
                "items": [{"id": _item(subscription)["id"], "price": plan.price_id}],
                "proration_behavior": p.proration_behavior,
            },
        },
        key=ctx.key("preview"),
    )
    lines = (invoice.get("lines") or {}).get("data") or []
    return Outcome(
        {
            "currency": invoice.get("currency"),
            "amount_due": invoice.get("amount_due"),
            "subtotal": invoice.get("subtotal"),
            "total": invoice.get("total"),
            "period_start": invoice.get("period_start"),
            "period_end": invoice.get("period_end"),
            "lines": [
                {"description": line.get("description"), "amount": line.get("amount")}
                for line in lines
            ],
        }
    )
