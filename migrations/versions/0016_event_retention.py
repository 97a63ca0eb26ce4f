"""Event log retention: an index on stripe_events.received_at for `billing prune`.

Built CONCURRENTLY on Postgres (outside the migration's transaction), so an existing
installation keeps ingesting while the index is built; plain on SQLite.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_stripe_events_received_at"


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgres():
        with op.get_context().autocommit_block():
            op.create_index(
                INDEX,
                "stripe_events",
                ["received_at"],
                postgresql_concurrently=True,
                if_not_exists=True,
            )
    else:
        op.create_index(INDEX, "stripe_events", ["received_at"])


def downgrade() -> None:
    if _postgres():
        with op.get_context().autocommit_block():
            op.drop_index(
                INDEX, table_name="stripe_events", postgresql_concurrently=True, if_exists=True
            )
    else:
        op.drop_index(INDEX, table_name="stripe_events")
