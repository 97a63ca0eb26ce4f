"""Credits: the append-only ledger and each account's balance row.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ENTRY_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "credit_entries",
        sa.Column("id", ENTRY_ID, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.String(255), nullable=False, unique=True),
        sa.Column("account_ref", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("overage", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("subscription_id", sa.String(255), nullable=True),
        sa.Column("period_start", TS, nullable=True),
        sa.Column("period_end", TS, nullable=True),
        sa.Column("answer", JSON, nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_credit_entries_account", "credit_entries", ["account_ref", "id"])
    op.create_index(
        "ix_credit_entries_subscription", "credit_entries", ["subscription_id", "period_start"]
    )
    op.create_table(
        "credit_balances",
        sa.Column("account_ref", sa.String(255), primary_key=True),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("payg", sa.Boolean(), nullable=False),
        sa.Column("period_start", TS, nullable=True),
        sa.Column("period_end", TS, nullable=True),
        sa.Column("granted", sa.BigInteger(), nullable=False),
        sa.Column("consumed", sa.BigInteger(), nullable=False),
        sa.Column("overage", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("credit_balances")
    op.drop_index("ix_credit_entries_subscription", table_name="credit_entries")
    op.drop_index("ix_credit_entries_account", table_name="credit_entries")
    op.drop_table("credit_entries")
