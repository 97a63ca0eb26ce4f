"""Payments: payment intents, charges, invoice payments, refunds and disputes.

A package because several Stripe objects make up one payment, each its own family:
`intents` (payment_intent.*, the payment rows), `charges` (charge.*, each attempt's facts,
and the payment row of a charge made without an intent), `invoice_payments`
(invoice_payment.*, the invoice links of API 2025-03-31 and later), `refunds` (refund.*;
refund_issued, refund_failed) and `disputes` (charge.dispute.*; dispute_opened,
dispute_closed). `tables` holds their tables, `read` the payment body (which joins them at
read time) and `owners` how a refund or dispute finds its account through its charge.
Each row is written from its own object's state under its own object's stamps, so the
order in which their events arrive never matters (see docs/mirror.md).
"""

from __future__ import annotations

from domain.mirror.families._family import Family
from domain.mirror.families.payments import (
    charges,
    disputes,
    intents,
    invoice_payments,
    refunds,
)
from domain.mirror.families.payments.read import LISTING
from domain.mirror.families.payments.tables import (
    CHARGES,
    DISPUTES,
    INVOICE_PAYMENTS,
    PAYMENTS,
    REFUNDS,
)

FAMILY = Family(
    name="payments",
    object_type="payment_intent",
    event_types=intents.EVENT_TYPES,
    parse=intents.parse_intent,
    refs=intents.intent_refs,
    rank=intents.intent_rank,
    transition=intents.intent_transition,
    table=PAYMENTS,
    listing=LISTING,
)

CHARGES_FAMILY = Family(
    name="charges",
    object_type="charge",
    event_types=charges.EVENT_TYPES,
    parse=charges.parse_charge,
    refs=charges.charge_refs,
    rank=charges.charge_rank,
    transition=charges.charge_transition,
    table=CHARGES,
    write=charges.write_charge,
)

INVOICE_PAYMENTS_FAMILY = Family(
    name="invoice-payments",
    object_type="invoice_payment",
    event_types=invoice_payments.EVENT_TYPES,
    parse=invoice_payments.parse_invoice_payment,
    refs=invoice_payments.invoice_payment_refs,
    rank=invoice_payments.invoice_payment_rank,
    transition=invoice_payments.invoice_payment_transition,
    table=INVOICE_PAYMENTS,
)

REFUNDS_FAMILY = Family(
    name="refunds",
    object_type="refund",
    event_types=refunds.EVENT_TYPES,
    parse=refunds.parse_refund,
    refs=refunds.refund_refs,
    rank=refunds.refund_rank,
    transition=refunds.refund_transition,
    table=REFUNDS,
    known=refunds.refund_known,
    notices=refunds.refund_notices,
    kinds=tuple(refunds.RefundKind),
    listing=refunds.LISTING,
)

DISPUTES_FAMILY = Family(
    name="disputes",
    object_type="dispute",
    event_types=disputes.EVENT_TYPES,
    parse=disputes.parse_dispute,
    refs=disputes.dispute_refs,
    rank=disputes.dispute_rank,
    transition=disputes.dispute_transition,
    table=DISPUTES,
    known=disputes.dispute_known,
    notices=disputes.dispute_notices,
    kinds=tuple(disputes.DisputeKind),
    listing=disputes.LISTING,
)
