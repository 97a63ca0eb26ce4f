"""Meter reports: usage records found by the meter event identifier they were claimed with.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_usage_records_report_id", "usage_records", ["report_id"])


def downgrade() -> None:
    op.drop_index("ix_usage_records_report_id", table_name="usage_records")
