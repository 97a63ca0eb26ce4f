"""Customer extras: tax ids (VAT ids and Stripe's verification of them).

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.String(255)


def _enum(name: str, length: int, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


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
    op.create_table(
        "tax_ids",
        sa.Column("id", ID, nullable=False),
        sa.Column("stripe_customer_id", ID),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("value", sa.String(255)),
        sa.Column("country", sa.String(2)),
        sa.Column(
            "verification_status",
            _enum("tax_id_verification", 16, "pending", "verified", "unverified", "unavailable"),
        ),
        sa.Column("verified_name", sa.String(512)),
        sa.Column("verified_address", sa.Text()),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("stripe_created", TS),
        *_stamped(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tax_ids")),
    )
    op.create_index(
        "ix_tax_ids_customer_created", "tax_ids", ["stripe_customer_id", "stripe_created"]
    )


def downgrade() -> None:
    op.drop_index("ix_tax_ids_customer_created", table_name="tax_ids")
    op.drop_table("tax_ids")
