"""Plans: subscription schedules (a scheduled plan change), products, prices, and each
customer's entitlement summary (its active features).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.String(255)
SCHEDULE_STATUSES = ("not_started", "active", "completed", "released", "canceled")


def _stamped() -> list[sa.Column]:
    """The raw object, the ordering stamp and our write time every mirrored row carries."""
    return [
        sa.Column("raw", JSON, nullable=False),
        sa.Column("last_event_created", sa.BigInteger(), nullable=False),
        sa.Column("last_event_rank", sa.Integer(), nullable=False),
        sa.Column("last_event_id", ID, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "subscription_schedules",
        sa.Column("id", ID, nullable=False),
        sa.Column("stripe_customer_id", ID),
        sa.Column("subscription_id", ID),
        sa.Column(
            "status",
            sa.Enum(
                *SCHEDULE_STATUSES,
                name="subscription_schedule_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("end_behavior", sa.String(16)),
        sa.Column("current_phase_start", TS),
        sa.Column("current_phase_end", TS),
        sa.Column("next_price_id", ID),
        sa.Column("next_plan_tier", sa.String(64)),
        sa.Column("next_plan_interval", sa.String(16)),
        sa.Column("next_quantity", sa.Integer()),
        sa.Column("next_effective_at", TS),
        sa.Column("released_subscription_id", ID),
        sa.Column("canceled_at", TS),
        sa.Column("completed_at", TS),
        sa.Column("released_at", TS),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_schedules")),
    )
    op.create_index(
        "ix_subscription_schedules_customer_created",
        "subscription_schedules",
        ["stripe_customer_id", "stripe_created"],
    )
    op.create_index(
        "ix_subscription_schedules_subscription_id", "subscription_schedules", ["subscription_id"]
    )

    op.create_table(
        "products",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.Text()),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )

    op.create_table(
        "prices",
        sa.Column("id", ID, nullable=False),
        sa.Column("product_id", ID),
        sa.Column("nickname", sa.Text()),
        sa.Column("lookup_key", sa.Text()),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("unit_amount", sa.BigInteger()),
        sa.Column("currency", sa.String(3)),
        sa.Column("recurring_interval", sa.String(16)),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prices")),
    )
    op.create_index("ix_prices_product_id", "prices", ["product_id"])

    op.create_table(
        "entitlement_summaries",
        sa.Column("id", ID, nullable=False),
        sa.Column("stripe_customer_id", ID, nullable=False),
        sa.Column("features", JSON, nullable=False),
        sa.Column("has_more", sa.Boolean(), nullable=False),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlement_summaries")),
    )


def downgrade() -> None:
    op.drop_table("entitlement_summaries")
    op.drop_index("ix_prices_product_id", table_name="prices")
    op.drop_table("prices")
    op.drop_table("products")
    op.drop_index("ix_subscription_schedules_subscription_id", table_name="subscription_schedules")
    op.drop_index("ix_subscription_schedules_customer_created", table_name="subscription_schedules")
    op.drop_table("subscription_schedules")
