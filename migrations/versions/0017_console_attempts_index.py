"""An index on event_attempts(failed_at): the ops console counts failed attempts per minute.

(stripe_events.received_at, the other half of the console's chart, is indexed by 0016.)
Built CONCURRENTLY on Postgres so workers keep recording failures while it builds.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX, TABLE, COLUMNS = "ix_event_attempts_failed_at", "event_attempts", ["failed_at"]


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgres():
        with op.get_context().autocommit_block():
            op.create_index(INDEX, TABLE, COLUMNS, postgresql_concurrently=True)
    else:
        op.create_index(INDEX, TABLE, COLUMNS)


def downgrade() -> None:
    if _postgres():
        with op.get_context().autocommit_block():
            op.drop_index(INDEX, table_name=TABLE, postgresql_concurrently=True)
    else:
        op.drop_index(INDEX, table_name=TABLE)
