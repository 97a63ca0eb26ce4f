"""Stripe Billing credit grants: credit_grants (the mirror of billing.credit_grant).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.String(255)


def upgrade() -> None:
    op.create_table(
        "credit_grants",
        sa.Column("id", ID, nullable=False),
        sa.Column("stripe_customer_id", ID),
        sa.Column("name", sa.String(255)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("category", sa.String(32)),
        sa.Column("amount_type", sa.String(32)),
        sa.Column("amount", sa.BigInteger()),
        sa.Column("currency", sa.String(3)),
        sa.Column("price_type", sa.String(32)),
        sa.Column("price_ids", JSON, nullable=False),
        sa.Column("priority", sa.Integer()),
        sa.Column("effective_at", TS),
        sa.Column("expires_at", TS),
        sa.Column("voided_at", TS),
        sa.Column("credits", sa.BigInteger()),
        sa.Column("stripe_created", TS),
        sa.Column("raw", JSON, nullable=False),
        sa.Column("last_event_created", sa.BigInteger(), nullable=False),
        sa.Column("last_event_rank", sa.Integer(), nullable=False),
        sa.Column("last_event_id", ID, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_grants")),
    )
    op.create_index("ix_credit_grants_stripe_customer_id", "credit_grants", ["stripe_customer_id"])
    # The expiry step looks for due grants: manual and Stripe grant entries by their expiry.
    op.create_index("ix_credit_entries_expiring", "credit_entries", ["source", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_credit_entries_expiring", table_name="credit_entries")
    op.drop_index("ix_credit_grants_stripe_customer_id", table_name="credit_grants")
    op.drop_table("credit_grants")
