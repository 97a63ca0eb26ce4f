"""The fake Stripe's checkout and portal sessions, subscriptions, schedules and invoices."""

from __future__ import annotations

from domain.samples import example_object, new_id
from tests.support.fake_stripe_store import (
    MONTH,
    Obj,
    ObjectStore,
    Route,
    as_bool,
    invalid,
    missing,
    route,
)

DURATION_INTERVALS = ("day", "week", "month", "year")


def _phase(n: int, phase: Obj) -> Obj:
    """Check one schedule phase as the current API does (no `iterations`, since 2025-08-27)."""
    if "iterations" in phase:
        raise invalid(
            f"Received unknown parameter: phases[{n}][iterations]",
            "parameter_unknown",
            param=f"phases[{n}][iterations]",
        )
    duration = phase.get("duration")
    if duration is not None and phase.get("end_date") is not None:
        raise invalid(
            "You may only specify one of these parameters: duration, end_date.",
            "parameters_exclusive",
            param=f"phases[{n}]",
        )
    if duration is not None:
        if duration.get("interval") not in DURATION_INTERVALS:
            raise invalid(
                "Invalid duration interval",
                "parameter_invalid_string",
                param=f"phases[{n}][duration][interval]",
            )
        phase = {
            **phase,
            "duration": {
                "interval": duration["interval"],
                "interval_count": int(duration.get("interval_count", 1)),
            },
        }
    return phase


class BillingResources:
    """Sessions, subscriptions (and their schedules), invoice previews, paying a checkout."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        return [
            route("POST", r"/v1/checkout/sessions", self.create_checkout),
            route("POST", r"/v1/billing_portal/sessions", self.create_portal),
            route("GET", r"/v1/subscriptions/(\w+)", self.get_subscription),
            route("POST", r"/v1/subscriptions/(\w+)", self.update_subscription),
            route("DELETE", r"/v1/subscriptions/(\w+)", self.cancel_subscription),
            route("POST", r"/v1/subscription_items", self.create_item),
            route("DELETE", r"/v1/subscription_items/(\w+)", self.delete_item),
            route("POST", r"/v1/subscription_schedules", self.create_schedule),
            route("POST", r"/v1/subscription_schedules/(\w+)", self.update_schedule),
            route("POST", r"/v1/invoices/create_preview", self.preview_invoice),
        ]

    # --- sessions ------------------------------------------------------------------------

    def create_checkout(self, p: Obj) -> Obj:
        customer = self.store.get(p.get("customer", ""), "customer")
        price = p["line_items"][0]["price"]
        if not price.startswith("price_"):
            raise invalid(
                f"No such price: '{price}'", "resource_missing", param="line_items[0][price]"
            )
        session = self.store.new(
            "checkout.session",
            "cs_test",
            mode=p.get("mode"),
            customer=customer["id"],
            client_reference_id=p.get("client_reference_id"),
            status="open",
            payment_status="unpaid",
            subscription=None,
            invoice=None,
            payment_method_types=p.get("payment_method_types", ["card"]),
            success_url=p.get("success_url"),
            cancel_url=p.get("cancel_url"),
            metadata=p.get("metadata", {}),
            currency="eur",
            amount_total=None,
            expires_at=self.store.clock.now() + 86400,
            customer_email=customer.get("email"),
        )
        session["url"] = f"https://checkout.stripe.com/c/pay/{session['id']}"
        session["_line_items"] = p["line_items"]
        session["_subscription_data"] = p.get("subscription_data", {})
        return session

    def create_portal(self, p: Obj) -> Obj:
        self.store.get(p.get("customer", ""), "customer")
        portal = self.store.new(
            "billing_portal.session", "bps", customer=p["customer"], return_url=p.get("return_url")
        )
        portal["url"] = f"https://billing.stripe.com/p/session/{portal['id']}"
        return portal

    # --- subscriptions -------------------------------------------------------------------

    def new_subscription(
        self, customer_id: str, price: str, metadata: Obj | None = None, status: str = "active"
    ) -> Obj:
        now = self.store.clock.now()
        sub = self.store.new(
            "subscription",
            "sub",
            customer=customer_id,
            status=status,
            currency="eur",
            cancel_at_period_end=False,
            cancel_at=None,
            canceled_at=None,
            ended_at=None,
            trial_start=None,
            trial_end=None,
            schedule=None,
            metadata=metadata or {},
            default_payment_method=None,
            latest_invoice=None,
        )
        # The current API shape: periods live on the items.
        sub.pop("current_period_start", None)
        sub.pop("current_period_end", None)
        item = sub["items"]["data"][0]
        item.update(
            id=new_id("si"),
            subscription=sub["id"],
            quantity=1,
            current_period_start=now,
            current_period_end=now + MONTH,
        )
        self._set_price(item, price)
        sub["items"]["data"] = [item]
        return sub

    def _set_price(self, item: Obj, price_id: str) -> None:
        item["price"] = {
            **item["price"],
            "id": price_id,
            "currency": "eur",
            "unit_amount": self.store.prices.get(price_id, 1000),
        }
        interval = "year" if price_id.endswith("year") else "month"
        item["price"]["recurring"] = {**item["price"]["recurring"], "interval": interval}
        item.pop("plan", None)

    def get_subscription(self, p: Obj, sub_id: str) -> Obj:
        return self.store.get(sub_id, "subscription")

    def update_subscription(self, p: Obj, sub_id: str) -> Obj:
        sub = self.store.get(sub_id, "subscription")
        previous: Obj = {}
        if "cancel_at_period_end" in p:
            previous["cancel_at_period_end"] = sub["cancel_at_period_end"]
            sub["cancel_at_period_end"] = as_bool(p["cancel_at_period_end"])
            item = sub["items"]["data"][0]
            sub["cancel_at"] = item["current_period_end"] if sub["cancel_at_period_end"] else None
        for change in p.get("items", []):
            item = next((i for i in sub["items"]["data"] if i["id"] == change.get("id")), None)
            if item is None:
                raise invalid("No such subscription item", "resource_missing", param="items[0][id]")
            previous["items"] = {"data": [dict(item, price=dict(item["price"]))]}
            self._set_price(item, change["price"])
        self.store.emit("customer.subscription.updated", dict(sub), previous)
        return sub

    def cancel_subscription(self, p: Obj, sub_id: str) -> Obj:
        sub = self.store.get(sub_id, "subscription")
        if sub["status"] == "canceled":
            raise invalid("Subscription already canceled")
        now = self.store.clock.now()
        sub.update(status="canceled", canceled_at=now, ended_at=now)
        self.store.emit("customer.subscription.deleted", dict(sub), None)
        return sub

    def create_item(self, p: Obj) -> Obj:
        """Add a price to a subscription (a metered price refuses a quantity, like Stripe)."""
        sub = self.store.get(p.get("subscription", ""), "subscription")
        price = p.get("price", "")
        if not price.startswith("price_"):
            raise invalid(f"No such price: '{price}'", "resource_missing", param="price")
        if any(i["price"]["id"] == price for i in sub["items"]["data"]):
            raise invalid(
                "Cannot add multiple subscription items with the same plan", param="price"
            )
        metered = price in self.store.metered_prices
        if metered and "quantity" in p:
            raise invalid(
                "Quantity should not be specified where usage_type is `metered`.", param="quantity"
            )
        first = sub["items"]["data"][0]
        item = {
            **first,
            "id": new_id("si"),
            "created": self.store.clock.now(),
            "quantity": None if metered else int(p.get("quantity", 1)),
        }
        self._set_price(item, price)
        item["price"]["recurring"] = {
            **item["price"]["recurring"],
            "usage_type": "metered" if metered else "licensed",
        }
        previous = {"items": {"data": [dict(i) for i in sub["items"]["data"]]}}
        sub["items"]["data"].append(item)
        self.store.created["subscription_item"] += 1
        self.store.emit("customer.subscription.updated", dict(sub), previous)
        return {**item, "object": "subscription_item"}

    def delete_item(self, p: Obj, item_id: str) -> Obj:
        """Remove an item (a second delete is Stripe's 404); `clear_usage` only for legacy."""
        sub = next(
            (
                s
                for s in self.store.objects.values()
                if s.get("object") == "subscription"
                and any(i["id"] == item_id for i in s["items"]["data"])
            ),
            None,
        )
        if sub is None:
            raise missing("subscription_item", item_id)
        if "clear_usage" in p:  # meter-based prices have no usage records to clear
            raise invalid(
                "With `billing_mode.type=flexible` set on a subscription, the following "
                "parameters are not supported: clear_usage.",
                param="clear_usage",
            )
        previous = {"items": {"data": [dict(i) for i in sub["items"]["data"]]}}
        sub["items"]["data"] = [i for i in sub["items"]["data"] if i["id"] != item_id]
        self.store.emit("customer.subscription.updated", dict(sub), previous)
        return {"id": item_id, "object": "subscription_item", "deleted": True}

    def create_schedule(self, p: Obj) -> Obj:
        sub = self.store.get(p.get("from_subscription", ""), "subscription")
        item = sub["items"]["data"][0]
        phase = {
            "start_date": item["current_period_start"],
            "end_date": item["current_period_end"],
            "items": [{"price": item["price"]["id"], "quantity": item.get("quantity", 1)}],
        }
        schedule = self.store.new(
            "subscription_schedule",
            "sub_sched",
            subscription=sub["id"],
            customer=sub["customer"],
            phases=[phase],
            status="active",
            end_behavior="release",
            current_phase=None,
        )
        sub["schedule"] = schedule["id"]
        return schedule

    def update_schedule(self, p: Obj, schedule_id: str) -> Obj:
        schedule = self.store.get(schedule_id, "subscription_schedule")
        if "phases" in p:
            schedule["phases"] = [_phase(n, phase) for n, phase in enumerate(p["phases"])]
        schedule["end_behavior"] = p.get("end_behavior", schedule["end_behavior"])
        return schedule

    # --- invoices ------------------------------------------------------------------------

    def preview_invoice(self, p: Obj) -> Obj:
        sub = self.store.get(p.get("subscription", ""), "subscription")
        new_price = p["subscription_details"]["items"][0]["price"]
        old = sub["items"]["data"][0]["price"]["unit_amount"]
        new = self.store.prices.get(new_price, 1000)
        lines = [
            {"description": "Unused time on old plan", "amount": -old // 2},
            {"description": "Remaining time on new plan", "amount": new // 2},
        ]
        total = sum(line["amount"] for line in lines) + new
        invoice = example_object("invoice")
        invoice.update(
            id=None,
            object="invoice",
            customer=sub["customer"],
            currency="eur",
            amount_due=max(0, total),
            subtotal=total,
            total=total,
            lines={"object": "list", "data": lines, "has_more": False},
        )
        return invoice

    # --- the customer pays ---------------------------------------------------------------

    def complete_checkout(self, session_id: str, payment_method: str) -> Obj:
        """Subscription, paid invoice and their events, in the order Stripe sends them."""
        session = self.store.get(session_id, "checkout.session")
        customer_id = session["customer"]
        line = session["_line_items"][0]
        metadata = session["_subscription_data"].get("metadata", {})
        sub = self.new_subscription(customer_id, line["price"], metadata)
        invoice = self.store.new(
            "invoice",
            "in",
            customer=customer_id,
            status="paid",
            currency="eur",
            amount_due=sub["items"]["data"][0]["price"]["unit_amount"],
            attempt_count=1,
            billing_reason="subscription_create",
            subscription=None,
            parent={
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"subscription": sub["id"], "metadata": {}},
            },
        )
        invoice["amount_paid"], invoice["amount_remaining"] = invoice["amount_due"], 0
        invoice["status_transitions"] = {
            **(invoice.get("status_transitions") or {}),
            "paid_at": self.store.clock.now(),
        }
        sub["latest_invoice"] = invoice["id"]
        session.update(
            status="complete",
            payment_status="paid",
            subscription=sub["id"],
            invoice=invoice["id"],
            amount_total=invoice["amount_due"],
        )
        public = {k: v for k, v in session.items() if not k.startswith("_")}
        self.store.emit("customer.subscription.created", dict(sub), None)
        self.store.emit("invoice.paid", dict(invoice), None)
        self.store.emit("checkout.session.completed", public, None)
        return public
