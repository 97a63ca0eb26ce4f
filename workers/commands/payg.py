"""payg.enable and payg.disable: the catalog's metered price on the account's subscription.

Pay-as-you-go means two things that change together: Stripe bills overage through the
catalog's metered price (`payg_price_id`), which must be an item of the subscription, and
the credit gate answers overage instead of 402 (the `payg` flag of the account's balance).
The Stripe side is done first; the flag is set in the transaction that records the
command's result, so the gate lets overage through only once the price is there.

Idempotent: Stripe's current subscription (not only the mirror, which may lag) is checked
for an item with the price before one is added, and the add runs under a key derived from
the command id, so a retried command (after a dropped answer or a crash before the commit)
never adds a second item. Disable deletes the item without `clear_usage`: that parameter
deletes legacy usage records, meter-based prices keep usage on the meter (and flexible
billing mode refuses it), and usage already reported stays billed.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy.orm import Session

from domain.commands.params import PaygToggle
from domain.credits import ledger
from workers.commands.context import (
    ExecContext,
    LocalWrite,
    MirrorWrite,
    Outcome,
    command_error,
    ref_id,
)
from workers.commands.customers import ensure_customer
from workers.stripe_gateway import Obj, StripeFailure

log = structlog.get_logger("workers.commands.payg")


def payg_items(subscription: Obj, price_id: str) -> list[Obj]:
    """The subscription's items billed through this price (normally none or one)."""
    items = (subscription.get("items") or {}).get("data") or []
    return [dict(i) for i in items if ref_id(i.get("price")) == price_id]


def _flag(account_ref: str, on: bool) -> LocalWrite:
    def write(session: Session, now: datetime) -> None:
        ledger.set_payg(session, account_ref, on, now)

    return write


def _subscription(ctx: ExecContext, customer_id: str) -> Obj:
    """Stripe's current copy of the subscription that speaks for the account."""
    subscription = ctx.gateway.retrieve_subscription(ctx.subscription_id(None, customer_id))
    if ref_id(subscription.get("customer")) != customer_id:
        raise command_error("subscription_not_found", "no such subscription on this account")
    return subscription


def enable(ctx: ExecContext, p: PaygToggle) -> Outcome:
    """Add the metered price to the account's subscription (once), then turn payg on."""
    price_id = ctx.catalog.payg_price_id
    if price_id is None:
        raise command_error(
            "payg_not_configured", "the plan catalog has no payg_price_id: pay-as-you-go is off"
        )
    customer_id, _ = ensure_customer(ctx)
    subscription = _subscription(ctx, customer_id)
    existing = payg_items(subscription, price_id)
    mirror: list[MirrorWrite] = []
    if existing:
        item_id, added = str(existing[0]["id"]), False
    else:
        # No quantity: Stripe refuses one for metered prices.
        item = ctx.gateway.create_subscription_item(
            {"subscription": subscription["id"], "price": price_id}, key=ctx.key("payg_item")
        )
        item_id, added = str(item["id"]), True
        # The item's answer is not the subscription: fetch it, so the mirror shows it at once.
        mirror.append(
            MirrorWrite(
                "customer.subscription.updated",
                ctx.gateway.retrieve_subscription(subscription["id"]),
            )
        )
    log.info("payg.enabled", subscription_id=subscription["id"], item_id=item_id, added=added)
    return Outcome(
        {
            "payg": True,
            "customer_id": customer_id,
            "subscription_id": subscription["id"],
            "price_id": price_id,
            "item_id": item_id,
            "added": added,
        },
        mirror,
        local=[_flag(ctx.account_ref, True)],
    )


def _missing(failure: StripeFailure) -> bool:
    return (
        failure.error.get("code") == "resource_missing" or failure.error.get("http_status") == 404
    )


def disable(ctx: ExecContext, p: PaygToggle) -> Outcome:
    """Remove the metered price item(s), if any, then turn payg off (always succeeds then)."""
    price_id = ctx.catalog.payg_price_id
    customer_id = ctx.customer_id()
    subscription_id: str | None = None
    removed: list[str] = []
    mirror: list[MirrorWrite] = []
    if price_id is not None and customer_id is not None:
        try:
            subscription = _subscription(ctx, customer_id)
        except StripeFailure as failure:
            if failure.error.get("code") != "no_subscription":
                raise
        else:
            subscription_id = subscription["id"]
            for item in payg_items(subscription, price_id):
                try:
                    ctx.gateway.delete_subscription_item(item["id"])
                except StripeFailure as failure:  # deleted meanwhile (or by our last attempt)
                    if not _missing(failure):
                        raise
                removed.append(str(item["id"]))
            if removed:
                after = ctx.gateway.retrieve_subscription(subscription["id"])
                mirror.append(MirrorWrite("customer.subscription.updated", after))
    log.info("payg.disabled", subscription_id=subscription_id, removed=len(removed))
    return Outcome(
        {
            "payg": False,
            "subscription_id": subscription_id,
            "price_id": price_id,
            "removed_item_ids": removed,
        },
        mirror,
        local=[_flag(ctx.account_ref, False)],
    )
