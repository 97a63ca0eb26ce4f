"""An index on stripe_events.processed_at: the sweeper reads the latest finished events.

Each pass estimates the queue's wait from the last events finished (domain/queue_wait.py);
without the index that is a scan of the whole event log every few seconds. Partial (only
finished rows have a processed_at), so ingest, publish and claim updates do not feed it.
Built CONCURRENTLY on Postgres so ingest and workers keep writing while it builds.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX, TABLE, COLUMNS = "ix_stripe_events_processed_at", "stripe_events", ["processed_at"]
WHERE = sa.text("processed_at IS NOT NULL")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgres():
        with op.get_context().autocommit_block():
            op.create_index(
                INDEX,
                TABLE,
                COLUMNS,
                postgresql_where=WHERE,
                postgresql_concurrently=True,
                if_not_exists=True,
            )
    else:
        op.create_index(INDEX, TABLE, COLUMNS, sqlite_where=WHERE)


def downgrade() -> None:
    if _postgres():
        with op.get_context().autocommit_block():
            op.drop_index(INDEX, table_name=TABLE, postgresql_concurrently=True, if_exists=True)
    else:
        op.drop_index(INDEX, table_name=TABLE)
