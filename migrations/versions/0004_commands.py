"""Commands: outbound Stripe calls enqueued by the product API.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
UNFINISHED = "status IN ('queued', 'running', 'retrying')"
STATUSES = ("queued", "running", "retrying", "succeeded", "failed", "dead")


def upgrade() -> None:
    op.create_table(
        "commands",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("principal", sa.String(255), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("account_ref", sa.String(255), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("stripe_idempotency_key", sa.String(255), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                *STATUSES,
                name="command_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("result", JSON),
        sa.Column("error", JSON),
        sa.Column("last_error", sa.Text()),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("published_at", TS),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("next_attempt_at", TS),
        sa.Column("lease_token", sa.String(36)),
        sa.Column("lease_expires_at", TS),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_commands")),
        sa.UniqueConstraint("id", name=op.f("uq_commands_id")),
        sa.UniqueConstraint(
            "principal", "idempotency_key", name=op.f("uq_commands_principal_idempotency_key")
        ),
    )
    op.create_index(
        "ix_commands_account_unfinished",
        "commands",
        ["account_ref", "seq"],
        postgresql_where=sa.text(UNFINISHED),
        sqlite_where=sa.text(UNFINISHED),
    )
    op.create_index(
        "ix_commands_sweep",
        "commands",
        ["status", "seq"],
        postgresql_where=sa.text(UNFINISHED),
        sqlite_where=sa.text(UNFINISHED),
    )


def downgrade() -> None:
    op.drop_index("ix_commands_sweep", table_name="commands")
    op.drop_index("ix_commands_account_unfinished", table_name="commands")
    op.drop_table("commands")
