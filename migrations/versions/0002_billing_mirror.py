"""Billing mirror: accounts, subscriptions (+ items), invoices, payment methods, checkout
sessions, and the notifications outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.String(255)


def _enum(name: str, length: int, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def _stamped() -> list[sa.Column]:
    """The ordering stamp and bookkeeping every mirrored row carries."""
    return [
        sa.Column("raw", JSON, nullable=False),
        sa.Column("last_event_created", sa.BigInteger(), nullable=False),
        sa.Column("last_event_rank", sa.Integer(), nullable=False),
        sa.Column("last_event_id", ID, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    ]


def _period(prefix: str = "current_period") -> list[sa.Column]:
    return [sa.Column(f"{prefix}_start", TS), sa.Column(f"{prefix}_end", TS)]


def _plan() -> list[sa.Column]:
    return [
        sa.Column("price_id", ID),
        sa.Column("plan_tier", sa.String(64), nullable=False),
        sa.Column("plan_interval", sa.String(16)),
        sa.Column("quantity", sa.Integer()),
        sa.Column("unit_amount", sa.BigInteger()),
        sa.Column("currency", sa.String(3)),
    ]


def upgrade() -> None:
    op.create_table(
        "billing_accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_ref", ID),
        sa.Column("stripe_customer_id", ID),
        sa.Column("email", sa.String(512)),
        sa.Column("name", sa.String(512)),
        sa.Column("company_name", sa.String(512)),
        sa.Column("vat_number", sa.String(64)),
        sa.Column("kvk_number", sa.String(64)),
        sa.Column("address_line1", sa.String(512)),
        sa.Column("address_line2", sa.String(512)),
        sa.Column("postal_code", sa.String(64)),
        sa.Column("city", sa.String(255)),
        sa.Column("state", sa.String(255)),
        sa.Column("country", sa.String(2)),
        sa.Column("currency", sa.String(3)),
        sa.Column("default_payment_method_id", ID),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("raw", JSON),
        sa.Column("last_event_created", sa.BigInteger()),
        sa.Column("last_event_rank", sa.Integer()),
        sa.Column("last_event_id", ID),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.CheckConstraint(
            "account_ref IS NOT NULL OR stripe_customer_id IS NOT NULL",
            name=op.f("ck_billing_accounts_identified"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_accounts")),
        sa.UniqueConstraint("account_ref", name=op.f("uq_billing_accounts_account_ref")),
        sa.UniqueConstraint(
            "stripe_customer_id", name=op.f("uq_billing_accounts_stripe_customer_id")
        ),
    )

    op.create_table(
        "subscriptions",
        sa.Column("id", ID, nullable=False),
        sa.Column("stripe_customer_id", ID),
        sa.Column(
            "status",
            _enum(
                "subscription_status",
                32,
                "incomplete",
                "incomplete_expired",
                "trialing",
                "active",
                "past_due",
                "unpaid",
                "paused",
                "canceled",
            ),
            nullable=False,
        ),
        *_plan(),
        *_period(),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("cancel_at", TS),
        sa.Column("canceled_at", TS),
        sa.Column("ended_at", TS),
        sa.Column("trial_start", TS),
        sa.Column("trial_end", TS),
        sa.Column("default_payment_method_id", ID),
        sa.Column("latest_invoice_id", ID),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_index("ix_subscriptions_stripe_customer_id", "subscriptions", ["stripe_customer_id"])

    op.create_table(
        "subscription_items",
        sa.Column("id", ID, nullable=False),
        sa.Column("subscription_id", ID, nullable=False),
        *_plan(),
        *_period(),
        *_stamped(),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_items_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_items")),
    )
    op.create_index(
        "ix_subscription_items_subscription_id", "subscription_items", ["subscription_id"]
    )

    op.create_table(
        "invoices",
        sa.Column("id", ID, nullable=False),
        sa.Column("stripe_customer_id", ID),
        sa.Column("subscription_id", ID),
        sa.Column("number", sa.String(255)),
        sa.Column(
            "status",
            _enum("invoice_status", 16, "draft", "open", "uncollectible", "paid", "void"),
            nullable=False,
        ),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_due", sa.BigInteger(), nullable=False),
        sa.Column("amount_paid", sa.BigInteger(), nullable=False),
        sa.Column("amount_remaining", sa.BigInteger(), nullable=False),
        sa.Column("subtotal", sa.BigInteger()),
        sa.Column("total", sa.BigInteger()),
        sa.Column("billing_reason", sa.String(64)),
        sa.Column("hosted_invoice_url", sa.Text()),
        sa.Column("invoice_pdf", sa.Text()),
        sa.Column("paid_at", TS),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("next_payment_attempt", TS),
        *_period("period"),
        sa.Column("due_date", TS),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
    )
    op.create_index(
        "ix_invoices_customer_created", "invoices", ["stripe_customer_id", "stripe_created"]
    )
    op.create_index("ix_invoices_subscription_id", "invoices", ["subscription_id"])

    op.create_table(
        "payment_methods",
        sa.Column("id", ID, nullable=False),
        sa.Column("stripe_customer_id", ID),
        sa.Column(
            "status", _enum("payment_method_status", 16, "attached", "detached"), nullable=False
        ),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("card_brand", sa.String(32)),
        sa.Column("card_last4", sa.String(4)),
        sa.Column("card_exp_month", sa.Integer()),
        sa.Column("card_exp_year", sa.Integer()),
        sa.Column("bank_code", sa.String(64)),
        sa.Column("bank_last4", sa.String(4)),
        sa.Column("bank_country", sa.String(2)),
        sa.Column("ideal_bank", sa.String(64)),
        sa.Column("ideal_bic", sa.String(16)),
        sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_methods")),
    )
    op.create_index(
        "ix_payment_methods_stripe_customer_id", "payment_methods", ["stripe_customer_id"]
    )

    op.create_table(
        "checkout_sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_ref", ID),
        sa.Column("stripe_customer_id", ID),
        sa.Column("subscription_id", ID),
        sa.Column("mode", sa.String(16)),
        sa.Column("status", _enum("checkout_status", 16, "open", "complete", "expired")),
        sa.Column(
            "payment_status",
            _enum("checkout_payment_status", 32, "unpaid", "paid", "no_payment_required"),
        ),
        sa.Column("amount_total", sa.BigInteger()),
        sa.Column("currency", sa.String(3)),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkout_sessions")),
    )
    op.create_index("ix_checkout_sessions_account_ref", "checkout_sessions", ["account_ref"])

    due = "delivery_status IN ('pending', 'retrying')"
    op.create_table(
        "notifications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "kind",
            _enum(
                "notification_kind",
                40,
                "payment_failed",
                "payment_action_required",
                "subscription_activated",
                "subscription_plan_changed",
                "subscription_canceled",
                "trial_will_end",
                "checkout_async_payment_failed",
            ),
            nullable=False,
        ),
        sa.Column("account_ref", ID),
        sa.Column("stripe_customer_id", ID),
        sa.Column("object_type", sa.String(64), nullable=False),
        sa.Column("object_id", ID),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("event_created", sa.BigInteger(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column(
            "delivery_status",
            _enum("delivery_status", 16, "pending", "delivered", "retrying", "dead"),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", TS),
        sa.Column("delivered_at", TS),
        sa.Column("last_error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("event_id", "kind", name=op.f("uq_notifications_event_id_kind")),
    )
    op.create_index("ix_notifications_account_ref_id", "notifications", ["account_ref", "id"])
    op.create_index(
        "ix_notifications_due",
        "notifications",
        ["next_attempt_at"],
        postgresql_where=sa.text(due),
        sqlite_where=sa.text(due),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_due", table_name="notifications")
    op.drop_index("ix_notifications_account_ref_id", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_checkout_sessions_account_ref", table_name="checkout_sessions")
    op.drop_table("checkout_sessions")
    op.drop_index("ix_payment_methods_stripe_customer_id", table_name="payment_methods")
    op.drop_table("payment_methods")
    op.drop_index("ix_invoices_subscription_id", table_name="invoices")
    op.drop_index("ix_invoices_customer_created", table_name="invoices")
    op.drop_table("invoices")
    op.drop_index("ix_subscription_items_subscription_id", table_name="subscription_items")
    op.drop_table("subscription_items")
    op.drop_index("ix_subscriptions_stripe_customer_id", table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_table("billing_accounts")
