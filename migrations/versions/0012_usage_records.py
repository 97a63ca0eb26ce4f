"""Usage records: what the product's customers used, until reported to Stripe's meters.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "usage_records",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("account_ref", sa.String(255), nullable=False),
        sa.Column("meter", sa.String(100), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("report_status", sa.String(16), nullable=False),
        sa.Column("reported_at", TS, nullable=True),
        sa.Column("report_id", sa.String(255), nullable=True),
        sa.Column("report_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_usage_records_report", "usage_records", ["report_status", "occurred_at"])
    op.create_index("ix_usage_records_account", "usage_records", ["account_ref", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_usage_records_account", table_name="usage_records")
    op.drop_index("ix_usage_records_report", table_name="usage_records")
    op.drop_table("usage_records")
