"""Invoices complete: deleted drafts, tax and finalization errors on invoices.

- `invoices.status` also accepts `deleted` (a deleted draft's tombstone row), so its CHECK
  is rebuilt with the new value (batch mode: SQLite rebuilds the table).
- `invoices.tax` (the total of `total_taxes` / pre-2025 `total_tax_amounts`) and
  `finalization_error_code` / `finalization_error_message` (Stripe's
  `last_finalization_error`).

Downgrading deletes the tombstones of deleted drafts (revision 0006 cannot hold them, and
the read API never showed them) before restoring the CHECK of revision 0002.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INVOICE_STATUS = "ck_invoices_invoice_status"
STATUSES_0002 = ("draft", "open", "uncollectible", "paid", "void")
STATUSES = (*STATUSES_0002, "deleted")


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


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM invoices WHERE status = 'deleted'"))
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("finalization_error_message")
        batch.drop_column("finalization_error_code")
        batch.drop_column("tax")
        batch.drop_constraint(op.f(INVOICE_STATUS), type_="check")
        batch.create_check_constraint(op.f(INVOICE_STATUS), _status_in(STATUSES_0002))
