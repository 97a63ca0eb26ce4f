"""A Stripe and a mirror that disagree: the drift `billing reconcile` must find and repair.

Objects are made in the fake Stripe from Stripe's own examples; the mirror is written by
applying events through the families' handlers, exactly as webhooks would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from domain.envelope import parse_envelope
from domain.mirror.families import REGISTRY
from domain.mirror.unit import Unit
from domain.samples import build_event
from tests.families.support import DEPS
from tests.support.fake_stripe import FakeStripe

Obj = dict[str, Any]


def apply(db: Engine, event_type: str, obj: Obj, created: int) -> str:
    """Write the mirror as a webhook of `event_type` created at `created` would; its id."""
    event = build_event(event_type, orjson.loads(orjson.dumps(obj)), created=created)
    envelope = parse_envelope(orjson.dumps(event))
    with Session(db) as session, session.begin():
        REGISTRY[event_type].handler(Unit(session, DEPS), envelope)
    return str(event["id"])


def customer(fake: FakeStripe, ref: str, email: str) -> Obj:
    return fake.resources.new(
        "customer",
        "cus",
        email=email,
        name="Ada Lovelace",
        metadata={"account_ref": ref},
        address=None,
        invoice_settings={"default_payment_method": None},
    )


def invoice(fake: FakeStripe, customer_id: str, status: str) -> Obj:
    return fake.resources.new(
        "invoice", "in", customer=customer_id, subscription=None, status=status, currency="eur"
    )


def payment_method(fake: FakeStripe, customer_id: str | None) -> Obj:
    return fake.resources.new("payment_method", "pm", customer=customer_id, type="card")


@dataclass
class Drift:
    """What each object is: its id, and what reconcile must say about it."""

    same_customer: str
    missing_customer: str
    extra_customer: str
    renamed_customer: str
    stale_subscription: str
    extra_subscription: str
    stale_invoice: str
    missing_invoice: str
    missing_pm: str
    extra_pm: str

    def expected(self) -> dict[tuple[str, str], str]:
        return {
            ("customers", self.missing_customer): "missing",
            ("customers", self.extra_customer): "extra",
            ("customers", self.renamed_customer): "differing",
            ("subscriptions", self.stale_subscription): "differing",
            ("subscriptions", self.extra_subscription): "extra",
            ("invoices", self.stale_invoice): "differing",
            ("invoices", self.missing_invoice): "missing",
            ("payment_methods", self.missing_pm): "missing",
            ("payment_methods", self.extra_pm): "extra",
        }


def drifted(fake: FakeStripe, db: Engine) -> Drift:
    """A mirror that lost rows, has stale rows, and has rows Stripe no longer has."""
    now = fake.clock.now()
    old = now - 600  # the stale webhooks' second: before Stripe's current state
    billing = fake.resources.billing

    same = customer(fake, "org_same", "same@example.com")
    apply(db, "customer.created", same, old)
    missing = customer(fake, "org_missing", "missing@example.com")  # its webhook was lost
    extra = customer(fake, "org_extra", "extra@example.com")
    apply(db, "customer.created", extra, old)
    fake.resources.objects[extra["id"]] = {"id": extra["id"], "object": "customer", "deleted": True}
    renamed = customer(fake, "org_renamed", "new@example.com")
    apply(db, "customer.created", {**renamed, "email": "old@example.com"}, old)

    stale_sub = billing.new_subscription(same["id"], "price_pro_month")
    apply(db, "customer.subscription.created", {**stale_sub, "status": "trialing"}, old)
    extra_sub = billing.new_subscription(same["id"], "price_pro_month")
    apply(db, "customer.subscription.created", extra_sub, old)
    del fake.resources.objects[extra_sub["id"]]  # Stripe answers 404 for it

    stale_inv = invoice(fake, same["id"], "paid")
    apply(db, "invoice.finalized", {**stale_inv, "status": "open"}, old)
    missing_inv = invoice(fake, same["id"], "open")

    missing_pm = payment_method(fake, same["id"])
    extra_pm = payment_method(fake, same["id"])
    apply(db, "payment_method.attached", extra_pm, old)
    extra_pm["customer"] = None  # detached in Stripe; its webhook was lost

    return Drift(
        same["id"],
        missing["id"],
        extra["id"],
        renamed["id"],
        stale_sub["id"],
        extra_sub["id"],
        stale_inv["id"],
        missing_inv["id"],
        missing_pm["id"],
        extra_pm["id"],
    )


def one(db: Engine, sql: str, **params: Any) -> dict[str, Any]:
    with db.connect() as conn:
        return dict(conn.execute(text(sql), params).mappings().one())
