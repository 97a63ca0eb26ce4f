"""Payments group: payments (payment intents and direct charges), charges, invoice payments,
refunds, disputes.

Each row is written only from its own Stripe object's state (see docs/mirror.md);
statuses are plain strings so a status Stripe adds later is stored, not refused.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.String(255)
STATUS = sa.String(32)


def _stamped() -> list[sa.Column]:
    """The ordering stamp and bookkeeping every mirrored row carries."""
    return [
        sa.Column("raw", JSON, nullable=False),
        sa.Column("last_event_created", sa.BigInteger(), nullable=False),
        sa.Column("last_event_rank", sa.Integer(), nullable=False),
        sa.Column("last_event_id", ID, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    ]


def _flag(name: str) -> sa.Column:
    return sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", ID, nullable=False),
        sa.Column("object", sa.String(16), nullable=False),
        sa.Column("stripe_customer_id", ID),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payment_method_type", sa.String(64)),
        sa.Column("failure_code", sa.String(255)),
        sa.Column("failure_message", sa.Text()),
        sa.Column("invoice_id", ID),
        sa.Column("latest_charge_id", ID),
        sa.Column("canceled_at", TS),
        sa.Column("cancellation_reason", sa.String(64)),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index(
        "ix_payments_customer_created", "payments", ["stripe_customer_id", "stripe_created"]
    )

    op.create_table(
        "charges",
        sa.Column("id", ID, nullable=False),
        sa.Column("payment_intent_id", ID),
        sa.Column("stripe_customer_id", ID),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("amount_captured", sa.BigInteger()),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        _flag("paid"),
        _flag("refunded"),
        _flag("disputed"),
        sa.Column("payment_method_type", sa.String(64)),
        sa.Column("failure_code", sa.String(255)),
        sa.Column("failure_message", sa.Text()),
        sa.Column("receipt_url", sa.Text()),
        sa.Column("invoice_id", ID),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charges")),
    )
    op.create_index("ix_charges_payment_intent_id", "charges", ["payment_intent_id"])
    op.create_index("ix_charges_stripe_customer_id", "charges", ["stripe_customer_id"])

    op.create_table(
        "invoice_payments",
        sa.Column("id", ID, nullable=False),
        sa.Column("invoice_id", ID),
        sa.Column("payment_intent_id", ID),
        sa.Column("charge_id", ID),
        sa.Column("status", STATUS, nullable=False),
        _flag("is_default"),
        sa.Column("amount_paid", sa.BigInteger()),
        sa.Column("amount_requested", sa.BigInteger()),
        sa.Column("currency", sa.String(3)),
        sa.Column("paid_at", TS),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_payments")),
    )
    for column in ("invoice_id", "payment_intent_id", "charge_id"):
        op.create_index(f"ix_invoice_payments_{column}", "invoice_payments", [column])

    op.create_table(
        "refunds",
        sa.Column("id", ID, nullable=False),
        sa.Column("charge_id", ID),
        sa.Column("payment_intent_id", ID),
        sa.Column("stripe_customer_id", ID),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.String(64)),
        sa.Column("failure_reason", sa.String(64)),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
    )
    for column in ("charge_id", "payment_intent_id", "stripe_customer_id"):
        op.create_index(f"ix_refunds_{column}", "refunds", [column])

    op.create_table(
        "disputes",
        sa.Column("id", ID, nullable=False),
        sa.Column("charge_id", ID),
        sa.Column("payment_intent_id", ID),
        sa.Column("status", STATUS, nullable=False),
        sa.Column("reason", sa.String(64)),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("evidence_due_by", TS),
        sa.Column("evidence_submission_count", sa.Integer(), nullable=False),
        _flag("is_charge_refundable"),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
    )
    for column in ("charge_id", "payment_intent_id"):
        op.create_index(f"ix_disputes_{column}", "disputes", [column])


def downgrade() -> None:
    op.drop_table("disputes")
    op.drop_table("refunds")
    op.drop_table("invoice_payments")
    op.drop_table("charges")
    op.drop_table("payments")
