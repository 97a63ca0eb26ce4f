"""The reporter's reads and writes on usage_records (the caller owns every transaction).

Reporting is two steps so that a crash never bills twice:

1. `claim`: pending records of closed buckets, of accounts with a Stripe customer, are
   grouped and each group's identifier is written to its records' `report_id` (still
   `pending`), committed *before* anything is sent. The grouping decision is durable.
2. `claimed_events` reads the claimed groups back (by `report_id`), the worker sends them,
   and `mark_reported` / `mark_rejected` record Stripe's answer in one transaction.

A worker killed between the send and that commit leaves the records pending with the same
`report_id`: the next pass sends the same identifier again and Stripe deduplicates it. A
record arriving late into an already claimed bucket gets a group (and identifier) of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Index, and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from domain.mirror.tables import BillingAccount
from domain.usage.records import USAGE_RECORDS, ReportStatus, UsageRecord
from domain.usage.reporting import (
    Group,
    MeterEvent,
    PendingUsage,
    bucket_start,
    group_records,
    triage,
)

PENDING = ReportStatus.PENDING.value

# Claimed records are read back and marked by their identifier (migration 0014).
REPORT_ID_INDEX = Index("ix_usage_records_report_id", UsageRecord.report_id)


@dataclass(frozen=True, slots=True)
class ClaimResult:
    groups: int
    records: int
    rejected: int  # rejected without asking Stripe (too old, no customer for too long)
    waiting: int  # of accounts without a Stripe customer yet


def claim(
    session: Session,
    now: datetime,
    bucket_seconds: int,
    limit: int,
    unlinked_reject_after: timedelta | None,
) -> ClaimResult:
    """Group unclaimed pending records of closed buckets and write each group's identifier."""
    open_from = bucket_start(now, bucket_seconds)  # records at or after this are in open buckets
    rows = session.execute(
        select(
            UsageRecord.id,
            UsageRecord.account_ref,
            UsageRecord.meter,
            UsageRecord.quantity,
            UsageRecord.occurred_at,
            BillingAccount.stripe_customer_id,
        )
        .outerjoin(BillingAccount, BillingAccount.account_ref == UsageRecord.account_ref)
        .where(
            UsageRecord.report_status == PENDING,
            UsageRecord.report_id.is_(None),
            UsageRecord.occurred_at < open_from,
        )
        .order_by(UsageRecord.occurred_at, UsageRecord.id)
        .limit(limit)
        .with_for_update(of=UsageRecord, skip_locked=True)  # two reporters never share a record
    ).all()
    records = [PendingUsage(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]
    sorted_out = triage(records, now, unlinked_reject_after)
    if sorted_out.rejected:
        reject_records(session, sorted_out.rejected, now)
    groups = group_records(sorted_out.report, bucket_seconds, now)
    _write_claims(session, groups)
    return ClaimResult(
        groups=len(groups),
        records=sum(len(g.record_ids) for g in groups),
        rejected=len(sorted_out.rejected),
        waiting=sorted_out.waiting,
    )


def _write_claims(session: Session, groups: Sequence[Group]) -> None:
    rows = [{"rid": rid, "report_id": g.identifier} for g in groups for rid in g.record_ids]
    if not rows:
        return
    table = USAGE_RECORDS
    stmt = (
        update(table)
        .where(table.c.id == bindparam("rid"))
        .values(report_id=bindparam("report_id"))
        .execution_options(synchronize_session=False)
    )
    session.connection().execute(stmt, rows)


def claimed_events(session: Session, bucket_seconds: int, limit: int) -> list[MeterEvent]:
    """The claimed, still pending groups (one meter event each), oldest first."""
    first = func.min(UsageRecord.occurred_at)
    rows = session.execute(
        select(
            UsageRecord.report_id,
            UsageRecord.account_ref,
            UsageRecord.meter,
            func.sum(UsageRecord.quantity),
            first,
            func.count(),
            BillingAccount.stripe_customer_id,
        )
        .outerjoin(BillingAccount, BillingAccount.account_ref == UsageRecord.account_ref)
        .where(UsageRecord.report_status == PENDING, UsageRecord.report_id.is_not(None))
        .group_by(
            UsageRecord.report_id,
            UsageRecord.account_ref,
            UsageRecord.meter,
            BillingAccount.stripe_customer_id,
        )
        .order_by(first)
        .limit(limit)
    ).all()
    return [
        MeterEvent(
            identifier=str(r[0]),
            event_name=r[2],
            customer=r[6],
            value=int(r[3]),
            timestamp=bucket_start(r[4], bucket_seconds),
            record_count=int(r[5]),
        )
        for r in rows
        if r[6] is not None  # the account lost its customer since the claim: wait
    ]


def mark_reported(session: Session, identifiers: Iterable[str], now: datetime) -> int:
    """Stripe took these events: their records are reported (report_id stays the identifier)."""
    ids = list(identifiers)
    if not ids:
        return 0
    result = session.execute(
        update(UsageRecord)
        .where(UsageRecord.report_id.in_(ids), UsageRecord.report_status == PENDING)
        .values(report_status=ReportStatus.REPORTED.value, reported_at=now, report_error=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def mark_rejected(session: Session, reasons: Mapping[str, str], now: datetime) -> int:
    """Stripe refused these events for good: their records are rejected, with the reason."""
    count = 0
    for identifier, reason in reasons.items():
        result = session.execute(
            update(UsageRecord)
            .where(UsageRecord.report_id == identifier, UsageRecord.report_status == PENDING)
            .values(
                report_status=ReportStatus.REJECTED.value,
                reported_at=now,
                report_error=reason[:2000],
            )
            .execution_options(synchronize_session=False)
        )
        count += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return count


def reject_records(session: Session, reasons: Mapping[str, str], now: datetime) -> None:
    """Reject records by id (not sent: they can never be reported as they are)."""
    for record_id, reason in reasons.items():
        session.execute(
            update(UsageRecord)
            .where(UsageRecord.id == record_id, UsageRecord.report_status == PENDING)
            .values(report_status=ReportStatus.REJECTED.value, reported_at=now, report_error=reason)
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True, slots=True)
class RejectedUsage:
    id: str
    account_ref: str
    meter: str
    quantity: int
    occurred_at: datetime
    rejected_at: datetime | None
    reason: str | None


def list_rejected(
    session: Session, *, meter: str | None = None, account_ref: str | None = None, limit: int = 100
) -> list[RejectedUsage]:
    """Rejected records, newest rejection first (the dead-letter view of usage)."""
    stmt = select(UsageRecord).where(UsageRecord.report_status == ReportStatus.REJECTED.value)
    if meter:
        stmt = stmt.where(UsageRecord.meter == meter)
    if account_ref:
        stmt = stmt.where(UsageRecord.account_ref == account_ref)
    rows = session.scalars(
        stmt.order_by(UsageRecord.reported_at.desc(), UsageRecord.id).limit(limit)
    ).all()
    return [
        RejectedUsage(
            r.id, r.account_ref, r.meter, r.quantity, r.occurred_at, r.reported_at, r.report_error
        )
        for r in rows
    ]


def replay_rejected(
    session: Session, record_ids: Sequence[str] | None, *, meter: str | None = None
) -> int:
    """Rejected records back to pending, unclaimed (None: every rejected one, or of `meter`).

    They were never billed (Stripe refused them), so the next pass groups them afresh.
    """
    conditions = [UsageRecord.report_status == ReportStatus.REJECTED.value]
    if record_ids is not None:
        conditions.append(UsageRecord.id.in_(list(record_ids)))
    if meter:
        conditions.append(UsageRecord.meter == meter)
    result = session.execute(
        update(UsageRecord)
        .where(and_(*conditions))
        .values(report_status=PENDING, report_id=None, report_error=None, reported_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ReportedDay:
    account_ref: str
    customer: str | None
    meter: str
    day: date
    quantity: int


def reported_per_day(session: Session, since: datetime, until: datetime) -> list[ReportedDay]:
    """What we reported, per account, meter and UTC day of the usage (a bucket never
    straddles two days: USAGE_BUCKET_SECONDS divides a day)."""
    rows = session.execute(
        select(
            UsageRecord.account_ref,
            BillingAccount.stripe_customer_id,
            UsageRecord.meter,
            UsageRecord.occurred_at,
            UsageRecord.quantity,
        )
        .outerjoin(BillingAccount, BillingAccount.account_ref == UsageRecord.account_ref)
        .where(
            UsageRecord.report_status == ReportStatus.REPORTED.value,
            UsageRecord.occurred_at >= since,
            UsageRecord.occurred_at < until,
        )
    ).all()
    sums: dict[tuple[str, str | None, str, date], int] = {}
    for account, customer, meter, occurred_at, quantity in rows:
        key = (account, customer, meter, occurred_at.date())
        sums[key] = sums.get(key, 0) + int(quantity)
    return [ReportedDay(a, c, m, d, q) for (a, c, m, d), q in sorted(sums.items(), key=str)]
