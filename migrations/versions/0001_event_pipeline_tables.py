"""Event pipeline tables: stripe_events and dead_letters.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence
from typing import TypedDict

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
STATUSES = ("received", "queued", "processing", "processed", "ignored", "retrying", "dead")


class _PartialIndex(TypedDict):
    """The keyword arguments of a partial index on both dialects (op.create_index's **kw)."""

    postgresql_where: sa.TextClause
    sqlite_where: sa.TextClause


def _partial(where: str) -> _PartialIndex:
    return {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)}


def upgrade() -> None:
    op.create_table(
        "stripe_events",
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(255), nullable=False),
        sa.Column("api_version", sa.String(64), nullable=True),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("account", sa.String(255), nullable=True),
        sa.Column("object_type", sa.String(64), nullable=True),
        sa.Column("object_id", sa.String(255), nullable=True),
        sa.Column("event_created", sa.BigInteger(), nullable=False),
        sa.Column("raw_body", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), server_default="webhook", nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                *STATUSES,
                name="event_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("published_at", TS, nullable=True),
        sa.Column("next_attempt_at", TS, nullable=True),
        sa.Column("lease_expires_at", TS, nullable=True),
        sa.Column("lease_token", sa.String(36), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_stripe_events")),
    )
    op.create_index(
        "ix_stripe_events_unpublished",
        "stripe_events",
        ["status", "received_at"],
        **_partial("status IN ('received', 'queued')"),
    )
    op.create_index(
        "ix_stripe_events_leases",
        "stripe_events",
        ["lease_expires_at"],
        **_partial("status = 'processing'"),
    )
    op.create_index(
        "ix_stripe_events_retry_due",
        "stripe_events",
        ["next_attempt_at"],
        **_partial("status = 'retrying'"),
    )
    op.create_index("ix_stripe_events_type_received", "stripe_events", ["type", "received_at"])

    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("failed_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_type", sa.String(255), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=False),
        sa.Column("replay_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_replayed_at", TS, nullable=True),
        sa.Column("last_replayed_by", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["stripe_events.event_id"],
            name=op.f("fk_dead_letters_event_id_stripe_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
        sa.UniqueConstraint("event_id", name=op.f("uq_dead_letters_event_id")),
    )
    op.create_index("ix_dead_letters_failed_at", "dead_letters", ["failed_at"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_failed_at", table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_index("ix_stripe_events_type_received", table_name="stripe_events")
    op.drop_index("ix_stripe_events_retry_due", table_name="stripe_events")
    op.drop_index("ix_stripe_events_leases", table_name="stripe_events")
    op.drop_index("ix_stripe_events_unpublished", table_name="stripe_events")
    op.drop_table("stripe_events")
