"""Backfill: runs of `billing backfill` with their window and resume cursor.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
RUNNING = "status = 'running'"


def upgrade() -> None:
    op.create_table(
        "backfill_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("types", sa.Text(), server_default="[]", nullable=False),
        sa.Column("undelivered_only", sa.Boolean(), nullable=False),
        sa.Column("cursor", sa.String(255), nullable=True),
        sa.Column("oldest_created", sa.BigInteger(), nullable=True),
        sa.Column("pages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("seen", sa.Integer(), server_default="0", nullable=False),
        sa.Column("new", sa.Integer(), server_default="0", nullable=False),
        sa.Column("already_had", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfill_runs")),
    )
    op.create_index(
        "ix_backfill_runs_running",
        "backfill_runs",
        ["id"],
        postgresql_where=sa.text(RUNNING),
        sqlite_where=sa.text(RUNNING),
    )


def downgrade() -> None:
    op.drop_index("ix_backfill_runs_running", table_name="backfill_runs")
    op.drop_table("backfill_runs")
