"""Customer extras: tax ids (VAT ids and Stripe's verification of them), coupons,
promotion codes and discounts.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
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


def upgrade() -> None:
    op.create_table(
        "tax_ids",
        sa.Column("id", ID, nullable=False),
        sa.Column("stripe_customer_id", ID),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("value", sa.String(255)),
        sa.Column("country", sa.String(2)),
        sa.Column(
            "verification_status",
            _enum("tax_id_verification", 16, "pending", "verified", "unverified", "unavailable"),
        ),
        sa.Column("verified_name", sa.Text()),
        sa.Column("verified_address", sa.Text()),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_ids")),
    )
    op.create_index(
        "ix_tax_ids_customer_created", "tax_ids", ["stripe_customer_id", "stripe_created"]
    )

    op.create_table(
        "coupons",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(255)),
        sa.Column("percent_off", sa.Numeric(5, 2)),
        sa.Column("amount_off", sa.BigInteger()),
        sa.Column("currency", sa.String(3)),
        sa.Column("duration", sa.String(16)),
        sa.Column("duration_in_months", sa.Integer()),
        sa.Column("valid", sa.Boolean()),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coupons")),
    )

    op.create_table(
        "promotion_codes",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(255)),
        sa.Column("coupon_id", ID),
        sa.Column("stripe_customer_id", ID),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("expires_at", TS),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotion_codes")),
    )

    op.create_table(
        "discounts",
        sa.Column("id", ID, nullable=False),
        sa.Column("stripe_customer_id", ID),
        sa.Column("coupon_id", ID),
        sa.Column("promotion_code_id", ID),
        sa.Column("subscription_id", ID),
        sa.Column("invoice_id", ID),
        sa.Column("starts_at", TS),
        sa.Column("ends_at", TS),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discounts")),
    )
    op.create_index("ix_discounts_stripe_customer_id", "discounts", ["stripe_customer_id"])
    op.create_index("ix_discounts_subscription_id", "discounts", ["subscription_id"])


def downgrade() -> None:
    op.drop_index("ix_discounts_subscription_id", table_name="discounts")
    op.drop_index("ix_discounts_stripe_customer_id", table_name="discounts")
    op.drop_table("discounts")
    op.drop_table("promotion_codes")
    op.drop_table("coupons")
    op.drop_index("ix_tax_ids_customer_created", table_name="tax_ids")
    op.drop_table("tax_ids")
