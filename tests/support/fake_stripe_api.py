"""The fake Stripe's resources: Stripe-shaped objects (from Stripe's own fixtures) in memory."""

from __future__ import annotations

import collections
import re
import time
from collections.abc import Callable
from typing import Any

from domain.samples import example_object, new_id

Obj = dict[str, Any]
Emit = Callable[[str, Obj, Obj | None], None]
MONTH = 30 * 86400


class StripeHTTPError(Exception):
    """An error answer: status, Stripe error type, message, code and extra fields."""

    def __init__(
        self, status: int, type_: str, message: str, code: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.code, self.extra = (
            status,
            type_,
            message,
            code,
            extra,
        )


def _missing(kind: str, object_id: str) -> StripeHTTPError:
    return StripeHTTPError(
        404, "invalid_request_error", f"No such {kind}: '{object_id}'", "resource_missing"
    )


def _bool(value: Any) -> bool:
    return value in (True, "true", "True", "1")


class FakeResources:
    """Objects by id and the routes the gateway uses; `created` counts real creations."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.objects: dict[str, Obj] = {}
        self.created: collections.Counter[str] = collections.Counter()
        self.prices: dict[str, int] = {}
        self.routes: list[tuple[str, re.Pattern[str], Callable[..., Obj]]] = [
            ("POST", re.compile(r"/v1/customers"), self.create_customer),
            ("GET", re.compile(r"/v1/customers/(\w+)"), self.get_customer),
            ("POST", re.compile(r"/v1/customers/(\w+)"), self.update_customer),
            ("GET", re.compile(r"/v1/customers/(\w+)/tax_ids"), self.list_tax_ids),
            ("POST", re.compile(r"/v1/customers/(\w+)/tax_ids"), self.create_tax_id),
            ("DELETE", re.compile(r"/v1/customers/(\w+)/tax_ids/(\w+)"), self.delete_tax_id),
            ("POST", re.compile(r"/v1/checkout/sessions"), self.create_checkout),
            ("POST", re.compile(r"/v1/billing_portal/sessions"), self.create_portal),
            ("GET", re.compile(r"/v1/subscriptions/(\w+)"), self.get_subscription),
            ("POST", re.compile(r"/v1/subscriptions/(\w+)"), self.update_subscription),
            ("DELETE", re.compile(r"/v1/subscriptions/(\w+)"), self.cancel_subscription),
            ("POST", re.compile(r"/v1/subscription_schedules"), self.create_schedule),
            ("POST", re.compile(r"/v1/subscription_schedules/(\w+)"), self.update_schedule),
            ("GET", re.compile(r"/v1/payment_methods/(\w+)"), self.get_payment_method),
            ("POST", re.compile(r"/v1/payment_methods/(\w+)/attach"), self.attach),
            ("POST", re.compile(r"/v1/payment_methods/(\w+)/detach"), self.detach),
            ("POST", re.compile(r"/v1/setup_intents"), self.create_setup_intent),
            ("POST", re.compile(r"/v1/invoices/create_preview"), self.preview_invoice),
        ]

    def route(self, method: str, path: str, params: Obj) -> Obj:
        for verb, pattern, fn in self.routes:
            match = pattern.fullmatch(path)
            if verb == method and match:
                return fn(params, *match.groups())
        raise StripeHTTPError(404, "invalid_request_error", f"Unrecognized request URL ({path})")

    def _new(self, resource: str, prefix: str, **fields: Any) -> Obj:
        obj = example_object(resource)
        obj.update(id=new_id(prefix), created=int(time.time()), livemode=False, **fields)
        self.objects[obj["id"]] = obj
        self.created[resource] += 1
        return obj

    def _get(self, object_id: str, kind: str) -> Obj:
        obj = self.objects.get(object_id)
        if obj is None or obj.get("object") != kind:
            raise _missing(kind, object_id)
        return obj

    # --- customers -----------------------------------------------------------------------

    def create_customer(self, p: Obj) -> Obj:
        customer = self._new(
            "customer",
            "cus",
            email=p.get("email"),
            name=p.get("name"),
            metadata=p.get("metadata", {}),
            address=None,
            invoice_settings={
                "default_payment_method": None,
                "custom_fields": None,
                "footer": None,
                "rendering_options": None,
            },
        )
        self.emit("customer.created", dict(customer), None)
        return customer

    def get_customer(self, p: Obj, customer_id: str) -> Obj:
        return self._get(customer_id, "customer")

    def update_customer(self, p: Obj, customer_id: str) -> Obj:
        customer = self._get(customer_id, "customer")
        previous = {k: customer.get(k) for k in p}
        for field in ("name", "email", "address"):
            if field in p:
                customer[field] = p[field]
        customer["metadata"] = {**(customer.get("metadata") or {}), **p.get("metadata", {})}
        default = (p.get("invoice_settings") or {}).get("default_payment_method")
        if default is not None:
            self._get(default, "payment_method")
            customer["invoice_settings"]["default_payment_method"] = default
        self.emit("customer.updated", dict(customer), previous)
        return customer

    def list_tax_ids(self, p: Obj, customer_id: str) -> Obj:
        self._get(customer_id, "customer")
        data = [
            o
            for o in self.objects.values()
            if o.get("object") == "tax_id" and o.get("customer") == customer_id
        ]
        return {"object": "list", "data": data, "has_more": False}

    def create_tax_id(self, p: Obj, customer_id: str) -> Obj:
        self._get(customer_id, "customer")
        value = str(p.get("value", ""))
        # Well-formed but all-zero numbers stand in for the ones real Stripe refuses.
        if p.get("type") != "eu_vat" or set(re.sub(r"\D", "", value)) <= {"0"}:
            raise StripeHTTPError(
                400,
                "invalid_request_error",
                "Invalid value for eu_vat.",
                "tax_id_invalid",
                param="value",
            )
        return self._new("tax_id", "txi", customer=customer_id, type="eu_vat", value=p["value"])

    def delete_tax_id(self, p: Obj, customer_id: str, tax_id: str) -> Obj:
        self._get(tax_id, "tax_id")
        del self.objects[tax_id]
        return {"id": tax_id, "object": "tax_id", "deleted": True}

    # --- sessions ------------------------------------------------------------------------

    def create_checkout(self, p: Obj) -> Obj:
        customer = self._get(p.get("customer", ""), "customer")
        price = p["line_items"][0]["price"]
        if not price.startswith("price_"):
            raise StripeHTTPError(
                400,
                "invalid_request_error",
                f"No such price: '{price}'",
                "resource_missing",
                param="line_items[0][price]",
            )
        session = self._new(
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
            expires_at=int(time.time()) + 86400,
            customer_email=customer.get("email"),
        )
        session["url"] = f"https://checkout.stripe.com/c/pay/{session['id']}"
        session["_line_items"] = p["line_items"]
        session["_subscription_data"] = p.get("subscription_data", {})
        return session

    def create_portal(self, p: Obj) -> Obj:
        self._get(p.get("customer", ""), "customer")
        portal = self._new(
            "billing_portal.session", "bps", customer=p["customer"], return_url=p.get("return_url")
        )
        portal["url"] = f"https://billing.stripe.com/p/session/{portal['id']}"
        return portal

    def create_setup_intent(self, p: Obj) -> Obj:
        self._get(p.get("customer", ""), "customer")
        intent = self._new(
            "setup_intent",
            "seti",
            customer=p["customer"],
            payment_method_types=p.get("payment_method_types", ["card"]),
            usage=p.get("usage", "off_session"),
            status="requires_payment_method",
            metadata=p.get("metadata", {}),
        )
        intent["client_secret"] = f"{intent['id']}_secret_{new_id('x')[2:]}"
        return intent

    # --- payment methods -----------------------------------------------------------------

    def get_payment_method(self, p: Obj, pm_id: str) -> Obj:
        pm = self.objects.get(pm_id)
        if pm is None:
            raise _missing("payment_method", pm_id)
        return pm

    def attach(self, p: Obj, pm_id: str) -> Obj:
        customer = self._get(p.get("customer", ""), "customer")
        if "chargeDeclined" in pm_id:
            decline = "insufficient_funds" if "InsufficientFunds" in pm_id else "generic_decline"
            raise StripeHTTPError(
                402,
                "card_error",
                "Your card was declined.",
                "card_declined",
                decline_code=decline,
                param="",
            )
        pm = self.objects.get(pm_id) or self._adopt_payment_method(pm_id)
        pm["customer"] = customer["id"]
        self.emit("payment_method.attached", dict(pm), None)
        return pm

    def _adopt_payment_method(self, pm_id: str) -> Obj:
        pm = example_object("payment_method")
        pm.update(id=pm_id, created=int(time.time()), customer=None, type="card")
        self.objects[pm_id] = pm
        self.created["payment_method"] += 1
        return pm

    def detach(self, p: Obj, pm_id: str) -> Obj:
        pm = self.get_payment_method(p, pm_id)
        previous = {"customer": pm.get("customer")}
        pm["customer"] = None
        self.emit("payment_method.detached", dict(pm), previous)
        return pm

    # --- subscriptions -------------------------------------------------------------------

    def new_subscription(
        self, customer_id: str, price: str, metadata: Obj | None = None, status: str = "active"
    ) -> Obj:
        now = int(time.time())
        sub = self._new(
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
            "unit_amount": self.prices.get(price_id, 1000),
        }
        interval = "year" if price_id.endswith("year") else "month"
        item["price"]["recurring"] = {**item["price"]["recurring"], "interval": interval}
        item.pop("plan", None)

    def get_subscription(self, p: Obj, sub_id: str) -> Obj:
        return self._get(sub_id, "subscription")

    def update_subscription(self, p: Obj, sub_id: str) -> Obj:
        sub = self._get(sub_id, "subscription")
        previous: Obj = {}
        if "cancel_at_period_end" in p:
            previous["cancel_at_period_end"] = sub["cancel_at_period_end"]
            sub["cancel_at_period_end"] = _bool(p["cancel_at_period_end"])
            item = sub["items"]["data"][0]
            sub["cancel_at"] = item["current_period_end"] if sub["cancel_at_period_end"] else None
        for change in p.get("items", []):
            item = next((i for i in sub["items"]["data"] if i["id"] == change.get("id")), None)
            if item is None:
                raise StripeHTTPError(
                    400,
                    "invalid_request_error",
                    "No such subscription item",
                    "resource_missing",
                    param="items[0][id]",
                )
            previous["items"] = {"data": [dict(item, price=dict(item["price"]))]}
            self._set_price(item, change["price"])
        self.emit("customer.subscription.updated", dict(sub), previous)
        return sub

    def cancel_subscription(self, p: Obj, sub_id: str) -> Obj:
        sub = self._get(sub_id, "subscription")
        if sub["status"] == "canceled":
            raise StripeHTTPError(400, "invalid_request_error", "Subscription already canceled")
        now = int(time.time())
        sub.update(status="canceled", canceled_at=now, ended_at=now)
        self.emit("customer.subscription.deleted", dict(sub), None)
        return sub

    def create_schedule(self, p: Obj) -> Obj:
        sub = self._get(p.get("from_subscription", ""), "subscription")
        item = sub["items"]["data"][0]
        phase = {
            "start_date": item["current_period_start"],
            "end_date": item["current_period_end"],
            "items": [{"price": item["price"]["id"], "quantity": item.get("quantity", 1)}],
        }
        schedule = self._new(
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
        schedule = self._get(schedule_id, "subscription_schedule")
        schedule["phases"] = p.get("phases", schedule["phases"])
        schedule["end_behavior"] = p.get("end_behavior", schedule["end_behavior"])
        return schedule

    def preview_invoice(self, p: Obj) -> Obj:
        sub = self._get(p.get("subscription", ""), "subscription")
        new_price = p["subscription_details"]["items"][0]["price"]
        old = sub["items"]["data"][0]["price"]["unit_amount"]
        new = self.prices.get(new_price, 1000)
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
        session = self._get(session_id, "checkout.session")
        customer_id = session["customer"]
        line = session["_line_items"][0]
        metadata = session["_subscription_data"].get("metadata", {})
        sub = self.new_subscription(customer_id, line["price"], metadata)
        invoice = self._new(
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
            "paid_at": int(time.time()),
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
        self.emit("customer.subscription.created", dict(sub), None)
        self.emit("invoice.paid", dict(invoice), None)
        self.emit("checkout.session.completed", public, None)
        return public
