"""Invoices complete (deleted drafts, tax and finalization errors) and credit notes.

- `invoices.status` also accepts `deleted` (a deleted draft's tombstone row), so its CHECK
  is rebuilt with the new value (batch mode: SQLite rebuilds the table).
- `invoices.tax` (the total of `total_taxes` / pre-2025 `total_tax_amounts`) and
  `finalization_error_code` / `finalization_error_message` (Stripe's
  `last_finalization_error`).
- `credit_notes`: the credit notes of invoices (domain.mirror.families.credit_notes).

Downgrading deletes the tombstones of deleted drafts (revision 0006 cannot hold them, and
the read API never showed them) before restoring the CHECK of revision 0002.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INVOICE_STATUS = "ck_invoices_invoice_status"
STATUSES_0002 = ("draft", "open", "uncollectible", "paid", "void")
STATUSES = (*STATUSES_0002, "deleted")
TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
ID = sa.String(255)


def _status_in(statuses: Sequence[str]) -> str:
    return "status IN ({})".format(", ".join(f"'{s}'" for s in statuses))


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        # Names are given whole (op.f): the naming convention would prefix them again.
        batch.drop_constraint(op.f(INVOICE_STATUS), type_="check")
        batch.create_check_constraint(op.f(INVOICE_STATUS), _status_in(STATUSES))
        batch.add_column(sa.Column("tax", sa.BigInteger()))
        batch.add_column(sa.Column("finalization_error_code", sa.String(255)))
        batch.add_column(sa.Column("finalization_error_message", sa.Text()))

    op.create_table(
        "credit_notes",
        sa.Column("id", ID, nullable=False),
        sa.Column("stripe_customer_id", ID),
        sa.Column("invoice_id", ID),
        sa.Column("number", sa.String(255)),
        sa.Column(
            "status",
            sa.Enum(
                "issued",
                "void",
                name="credit_note_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("type", sa.String(32)),
        sa.Column("reason", sa.String(64)),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("subtotal", sa.BigInteger()),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("tax", sa.BigInteger()),
        sa.Column("pre_payment_amount", sa.BigInteger()),
        sa.Column("post_payment_amount", sa.BigInteger()),
        sa.Column("out_of_band_amount", sa.BigInteger()),
        sa.Column("amount_refunded", sa.BigInteger()),
        sa.Column("pdf", sa.Text()),
        sa.Column("effective_at", TS),
        sa.Column("voided_at", TS),
        sa.Column("stripe_created", TS),
        sa.Column("raw", JSON, nullable=False),
        sa.Column("last_event_created", sa.BigInteger(), nullable=False),
        sa.Column("last_event_rank", sa.Integer(), nullable=False),
        sa.Column("last_event_id", ID, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_notes")),
    )
    op.create_index("ix_credit_notes_invoice_id", "credit_notes", ["invoice_id"])
    op.create_index(
        "ix_credit_notes_customer_created",
        "credit_notes",
        ["stripe_customer_id", "stripe_created"],
    )


def downgrade() -> None:
    op.drop_index("ix_credit_notes_customer_created", table_name="credit_notes")
    op.drop_index("ix_credit_notes_invoice_id", table_name="credit_notes")
    op.drop_table("credit_notes")
    op.execute(sa.text("DELETE FROM invoices WHERE status = 'deleted'"))
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("finalization_error_message")
        batch.drop_column("finalization_error_code")
        batch.drop_column("tax")
        batch.drop_constraint(op.f(INVOICE_STATUS), type_="check")
        batch.create_check_constraint(op.f(INVOICE_STATUS), _status_in(STATUSES_0002))
