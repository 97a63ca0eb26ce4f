"""Issue 11's acceptance: an event of every type in its table, built from Stripe's own
example object (domain/fixtures/fixtures3.json) and sent under a current and a pre-2025 API
version, ends `processed`: never `ignored` (no handler) nor failed/dead.

The example objects are Stripe's generated samples, with placeholder values in places
(`"currency": "currency"`, `"customer": "customer"`): the mirror must take them without
dead-lettering. Each family's own tests check what the rows then say.
"""

from __future__ import annotations

import pytest

from domain.samples import build_event, example_object
from tests.mirror import factory as f
from tests.mirror.support import apply, one
from workers.runtime import Runtime

ISSUE_TYPES = (
    # invoices (complete)
    "invoice.updated",
    "invoice.deleted",
    "invoice.overdue",
    "invoice.will_be_due",
    "invoice.finalization_failed",
    # payments
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.canceled",
    "charge.succeeded",
    "charge.failed",
    "invoice_payment.paid",
    # refunds
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.refund.updated",
    # disputes
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
    # credit notes
    "credit_note.created",
    "credit_note.updated",
    "credit_note.voided",
    # tax ids
    "customer.tax_id.created",
    "customer.tax_id.updated",
    "customer.tax_id.deleted",
    # discounts
    "customer.discount.created",
    "customer.discount.updated",
    "customer.discount.deleted",
    "coupon.created",
    "coupon.updated",
    "coupon.deleted",
    "promotion_code.created",
    "promotion_code.updated",
    # schedules
    "subscription_schedule.created",
    "subscription_schedule.updated",
    "subscription_schedule.released",
    "subscription_schedule.canceled",
    "subscription_schedule.completed",
    "subscription_schedule.aborted",
    "subscription_schedule.expiring",
    # legacy sources
    "customer.source.created",
    "customer.source.updated",
    "customer.source.deleted",
    "customer.source.expiring",
    # SEPA mandates, setup failures
    "mandate.updated",
    "setup_intent.succeeded",
    "setup_intent.setup_failed",
    # entitlements
    "entitlements.active_entitlement_summary.updated",
    "product.created",
    "product.updated",
    "product.deleted",
    "price.created",
    "price.updated",
    "price.deleted",
)
VERSIONS = {"current": f.api_version(f.SHAPES[0]), "pre-2025": f.LEGACY_API_VERSION}


def status_of(rt: Runtime, event_id: str) -> str:
    row = one(rt.engine, "SELECT status FROM stripe_events WHERE event_id = :i", i=event_id)
    return str(row["status"])


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("event_type", ISSUE_TYPES)
def test_stripe_example_event_is_processed(runtime: Runtime, event_type: str, version: str) -> None:
    event = build_event(event_type, created=1_750_000_000, api_version=VERSIONS[version])
    apply(runtime, event)  # asserts neither failed nor ignored
    assert status_of(runtime, event["id"]) == "processed"


@pytest.mark.parametrize("version", VERSIONS)
def test_deleted_draft_invoice_saying_status_deleted_is_processed(
    runtime: Runtime, version: str
) -> None:
    invoice = example_object("invoice")
    invoice.update(status="deleted")
    event = build_event("invoice.deleted", invoice, api_version=VERSIONS[version])
    apply(runtime, event)
    assert status_of(runtime, event["id"]) == "processed"


@pytest.mark.parametrize("resource", ["card", "source"])
def test_both_kinds_of_legacy_source_are_processed(runtime: Runtime, resource: str) -> None:
    obj = example_object(resource)
    obj["customer"] = "cus_examples"
    event = build_event("customer.source.created", obj)
    apply(runtime, event)
    assert status_of(runtime, event["id"]) == "processed"
