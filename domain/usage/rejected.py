"""Rejected usage, the usage dead letters: list them (filtered, paged) and put them back.

A record is `rejected` when Stripe refused it for good or it can never be sent (too old,
no Stripe customer for too long); `report_error` says why. Replaying puts it back to
`pending`, unclaimed: it was never billed, so the next reporter pass groups it afresh. The
caller owns the transaction (domain.ops.usage_replay audits the replays).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, select, tuple_, update
from sqlalchemy.orm import Session

from domain.usage.records import ReportStatus, UsageRecord

REJECTED = ReportStatus.REJECTED.value
# The cursor of a page: the (rejected_at, id) of the last record of the previous page.
Cursor = tuple[datetime, str]


@dataclass(frozen=True, slots=True)
class RejectedFilter:
    """Which rejected records: of an account, of a meter, whose reason contains a text."""

    account_ref: str | None = None
    meter: str | None = None
    reason_contains: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.account_ref or self.meter or self.reason_contains)

    def conditions(self) -> list[ColumnElement[bool]]:
        """SQL conditions: rejected, and each given criterion."""
        found: list[ColumnElement[bool]] = [UsageRecord.report_status == REJECTED]
        if self.account_ref:
            found.append(UsageRecord.account_ref == self.account_ref)
        if self.meter:
            found.append(UsageRecord.meter == self.meter)
        if self.reason_contains:
            found.append(UsageRecord.report_error.icontains(self.reason_contains, autoescape=True))
        return found

    def describe(self) -> dict[str, str]:
        """The criteria given (for the audit trail)."""
        given = {
            "account_ref": self.account_ref,
            "meter": self.meter,
            "reason_contains": self.reason_contains,
        }
        return {k: v for k, v in given.items() if v}


@dataclass(frozen=True, slots=True)
class RejectedUsage:
    id: str
    account_ref: str
    meter: str
    quantity: int
    occurred_at: datetime
    rejected_at: datetime | None
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account_ref": self.account_ref,
            "meter": self.meter,
            "quantity": self.quantity,
            "occurred_at": self.occurred_at,
            "rejected_at": self.rejected_at,
            "reason": self.reason,
        }


def list_rejected(
    session: Session,
    flt: RejectedFilter | None = None,
    *,
    limit: int = 100,
    after: Cursor | None = None,
) -> list[RejectedUsage]:
    """Rejected records, newest rejection first; `after` is the cursor of the last page."""
    stmt = select(UsageRecord).where(*(flt or RejectedFilter()).conditions())
    if after is not None:
        stmt = stmt.where(tuple_(UsageRecord.reported_at, UsageRecord.id) < tuple_(*after))
    rows = session.scalars(
        stmt.order_by(UsageRecord.reported_at.desc(), UsageRecord.id.desc()).limit(limit)
    ).all()
    return [
        RejectedUsage(
            r.id, r.account_ref, r.meter, r.quantity, r.occurred_at, r.reported_at, r.report_error
        )
        for r in rows
    ]


def statuses_of(session: Session, record_ids: Sequence[str]) -> dict[str, str]:
    """record id -> report status, for the ids that exist."""
    rows = session.execute(
        select(UsageRecord.id, UsageRecord.report_status).where(
            UsageRecord.id.in_(list(record_ids))
        )
    ).all()
    return {rid: status for rid, status in rows}


def selected(
    session: Session, record_ids: Sequence[str] | None, flt: RejectedFilter, *, lock: bool
) -> list[tuple[str, str]]:
    """(id, meter) of the rejected records chosen by ids (None: by the filter alone)."""
    conditions = flt.conditions()
    if record_ids is not None:
        conditions.append(UsageRecord.id.in_(list(record_ids)))
    stmt = select(UsageRecord.id, UsageRecord.meter).where(and_(*conditions))
    stmt = stmt.order_by(UsageRecord.id)
    if lock:
        stmt = stmt.with_for_update()
    return [(rid, meter) for rid, meter in session.execute(stmt).all()]


def by_meter(rows: Sequence[tuple[str, str]]) -> dict[str, int]:
    """How many of (id, meter) rows each meter has."""
    return dict(Counter(meter for _, meter in rows))


def replay_rejected(
    session: Session,
    record_ids: Sequence[str] | None,
    flt: RejectedFilter | None = None,
) -> int:
    """Rejected records back to pending, unclaimed (None: every rejected one of `flt`)."""
    conditions = (flt or RejectedFilter()).conditions()
    if record_ids is not None:
        conditions.append(UsageRecord.id.in_(list(record_ids)))
    result = session.execute(
        update(UsageRecord)
        .where(and_(*conditions))
        .values(
            report_status=ReportStatus.PENDING.value,
            report_id=None,
            report_error=None,
            reported_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
