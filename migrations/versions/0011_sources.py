"""Legacy sources, mandates and setup intents: payment_methods.source, mandates, setup_intents.

A customer's legacy cards and sources (card_..., src_...) are rows of payment_methods
flagged `source`; existing rows are payment methods (`false`). Mandates (the SEPA debit
authorisations of payment methods) and setup intents get tables of their own.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.String(255)


def _stamped() -> list[sa.Column]:
    """The ordering stamp and bookkeeping every mirrored row carries."""
    return [
        sa.Column("raw", JSON, nullable=False),
        sa.Column("last_event_created", sa.BigInteger(), nullable=False),
        sa.Column("last_event_rank", sa.Integer(), nullable=False),
        sa.Column("last_event_id", ID, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("payment_methods") as batch:
        batch.add_column(
            sa.Column("source", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    op.create_table(
        "mandates",
        sa.Column("id", ID, nullable=False),
        sa.Column("payment_method_id", ID),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("type", sa.String(32)),
        sa.Column("method_type", sa.String(64)),
        sa.Column("reference", sa.String(255)),
        sa.Column("url", sa.String(2048)),
        sa.Column("accepted_at", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mandates")),
    )
    op.create_index("ix_mandates_payment_method_id", "mandates", ["payment_method_id"])

    op.create_table(
        "setup_intents",
        sa.Column("id", ID, nullable=False),
        sa.Column("stripe_customer_id", ID),
        sa.Column("payment_method_id", ID),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("usage", sa.String(32)),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_decline_code", sa.String(64)),
        sa.Column("error_message", sa.String(1024)),
        sa.Column("mandate_id", ID),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setup_intents")),
    )
    op.create_index("ix_setup_intents_stripe_customer_id", "setup_intents", ["stripe_customer_id"])


def downgrade() -> None:
    op.drop_index("ix_setup_intents_stripe_customer_id", table_name="setup_intents")
    op.drop_table("setup_intents")
    op.drop_index("ix_mandates_payment_method_id", table_name="mandates")
    op.drop_table("mandates")
    with op.batch_alter_table("payment_methods") as batch:
        batch.drop_column("source")
