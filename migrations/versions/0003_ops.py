"""Ops: event attempt history and the replay audit trail.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "event_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("failed_at", TS, nullable=False),
        sa.Column("error_type", sa.String(255), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["stripe_events.event_id"],
            name=op.f("fk_event_attempts_event_id_stripe_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_attempts")),
    )
    op.create_index("ix_event_attempts_event_id", "event_attempts", ["event_id", "id"])

    op.create_table(
        "replay_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("selector", sa.Text(), nullable=False),
        sa.Column("event_count", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replay_audit")),
    )
    op.create_index("ix_replay_audit_at", "replay_audit", ["at"])

    op.create_table(
        "replay_audit_events",
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("previous_status", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["audit_id"],
            ["replay_audit.id"],
            name=op.f("fk_replay_audit_events_audit_id_replay_audit"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["stripe_events.event_id"],
            name=op.f("fk_replay_audit_events_event_id_stripe_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("audit_id", "event_id", name=op.f("pk_replay_audit_events")),
    )
    op.create_index("ix_replay_audit_events_event_id", "replay_audit_events", ["event_id"])


def downgrade() -> None:
    op.drop_index("ix_replay_audit_events_event_id", table_name="replay_audit_events")
    op.drop_table("replay_audit_events")
    op.drop_index("ix_replay_audit_at", table_name="replay_audit")
    op.drop_table("replay_audit")
    op.drop_index("ix_event_attempts_event_id", table_name="event_attempts")
    op.drop_table("event_attempts")
