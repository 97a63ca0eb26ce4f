"""Time indexes for ops reads: stripe_events(received_at, event_id), event_attempts(failed_at).

The ops event list pages newest first by (received_at, event_id) and the console counts
events and failed attempts per minute of the last hour; without these both scan the table.
Built CONCURRENTLY on Postgres so ingest keeps writing while they build.

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

INDEXES = (
    ("ix_stripe_events_received", "stripe_events", ["received_at", "event_id"]),
    ("ix_event_attempts_failed_at", "event_attempts", ["failed_at"]),
)


def _concurrently() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _concurrently():
        with op.get_context().autocommit_block():
            for name, table, columns in INDEXES:
                op.create_index(name, table, columns, postgresql_concurrently=True)
    else:
        for name, table, columns in INDEXES:
            op.create_index(name, table, columns)


def downgrade() -> None:
    if _concurrently():
        with op.get_context().autocommit_block():
            for name, table, _ in INDEXES:
                op.drop_index(name, table_name=table, postgresql_concurrently=True)
    else:
        for name, table, _ in INDEXES:
            op.drop_index(name, table_name=table)
