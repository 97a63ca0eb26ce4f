"""Notifications: `kind` is any kind a family declares (the CHECK listing them is dropped).

Each Stripe object family declares its own notification kinds in its module; a database
constraint listing them all would have to be rebuilt by every family's migration (and two
families added side by side would each rebuild it without the other's kinds). The kinds
stay typed in code (`domain.mirror.notices.Notice.kind` is a StrEnum member).

Downgrading restores the constraint with the kinds of revision 0002; it fails while rows
of later kinds exist (delete or re-kind them first).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSTRAINT = "ck_notifications_notification_kind"
KINDS_0002 = (
    "payment_failed",
    "payment_action_required",
    "subscription_activated",
    "subscription_plan_changed",
    "subscription_canceled",
    "trial_will_end",
    "checkout_async_payment_failed",
)


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        # Names are given whole (op.f): the naming convention would prefix them again.
        batch.drop_constraint(op.f(CONSTRAINT), type_="check")


def downgrade() -> None:
    kinds = ", ".join(f"'{k}'" for k in KINDS_0002)
    with op.batch_alter_table("notifications") as batch:
        batch.create_check_constraint(op.f(CONSTRAINT), f"kind IN ({kinds})")
