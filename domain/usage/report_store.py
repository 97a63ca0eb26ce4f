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

from sqlalchemy import Index, bindparam, func, or_, select, text, update
from sqlalchemy.orm import Session

from domain.mirror.tables import BillingAccount
from domain.usage.records import USAGE_RECORDS, ReportStatus, UsageRecord
from domain.usage.reporting import (
    MAX_AGE,
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
    # Records of accounts without a customer are read only once they are to be rejected, so
    # a pile of them waiting never starves the accounts that can be reported.
    give_up = now - MAX_AGE  # older: rejected (too old, or unlinked for too long)
    if unlinked_reject_after:
        give_up = max(give_up, now - unlinked_reject_after)
    unlinked = BillingAccount.stripe_customer_id.is_(None)
    waiting = session.scalar(
        select(func.count())
        .select_from(UsageRecord)
        .outerjoin(BillingAccount, BillingAccount.account_ref == UsageRecord.account_ref)
        .where(
            UsageRecord.report_status == PENDING,
            UsageRecord.report_id.is_(None),
            unlinked,
            UsageRecord.occurred_at >= give_up,
        )
    )
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
            or_(~unlinked, UsageRecord.occurred_at < give_up),
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
        waiting=int(waiting or 0) + sorted_out.waiting,
    )


def _write_claims(session: Session, groups: Sequence[Group]) -> None:
    ids: list[str] = []
    report_ids: list[str] = []
    for group in groups:
        identifier = group.identifier
        ids += group.record_ids
        report_ids += [identifier] * len(group.record_ids)
    if not ids:
        return
    if session.get_bind().dialect.name == "postgresql":  # one statement, whatever the count
        session.execute(
            text(
                "UPDATE usage_records SET report_id = v.report_id"
                " FROM unnest(CAST(:ids AS text[]), CAST(:report_ids AS text[]))"
                " AS v(id, report_id) WHERE usage_records.id = v.id"
            ),
            {"ids": ids, "report_ids": report_ids},
        )
        return
    stmt = (
        update(USAGE_RECORDS)
        .where(USAGE_RECORDS.c.id == bindparam("rid"))
        .values(report_id=bindparam("report_id"))
    )
    session.connection().execute(
        stmt, [{"rid": i, "report_id": r} for i, r in zip(ids, report_ids, strict=True)]
    )


def backlog_size(session: Session, limit: int) -> int:
    """Claimed groups still pending (at most `limit` counted)."""
    inner = (
        select(USAGE_RECORDS.c.report_id)
        .where(USAGE_RECORDS.c.report_status == PENDING, USAGE_RECORDS.c.report_id.is_not(None))
        .group_by(USAGE_RECORDS.c.report_id)
        .limit(limit)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def claimed_events(session: Session, bucket_seconds: int, limit: int) -> list[MeterEvent]:
    """Up to `limit` claimed, still pending groups (one meter event each), oldest first.

    Whole groups only: an event's value must be the sum of all its records, or a resend
    under the same identifier would be deduplicated with a different value.
    """
    t = USAGE_RECORDS.c
    pending_claimed = (t.report_status == PENDING, t.report_id.is_not(None))
    first = func.min(t.occurred_at)
    chosen = list(
        session.scalars(
            select(t.report_id)
            .where(*pending_claimed)
            .group_by(t.report_id)
            .order_by(first, t.report_id)
            .limit(limit)
        )
    )
    members: dict[str, list[tuple[str, str, str, int, datetime, str | None]]] = {}
    for part in range(0, len(chosen), 1000):
        rows = session.execute(
            select(
                t.report_id,
                t.id,
                t.account_ref,
                t.meter,
                t.quantity,
                t.occurred_at,
                BillingAccount.stripe_customer_id,
            )
            .outerjoin(BillingAccount, BillingAccount.account_ref == t.account_ref)
            .where(*pending_claimed, t.report_id.in_(chosen[part : part + 1000]))
        ).all()
        for row in rows:
            members.setdefault(row[0], []).append(tuple(row[1:]))  # type: ignore[arg-type]
    events = []
    for identifier in chosen:
        group = members.get(identifier)
        if not group:
            continue  # reported by another reporter in between
        meter, customer = group[0][2], group[0][5]
        if customer is None:
            continue  # the account lost its customer since the claim: wait
        events.append(
            MeterEvent(
                identifier=identifier,
                event_name=meter,
                customer=customer,
                value=sum(int(m[3]) for m in group),
                timestamp=bucket_start(min(m[4] for m in group), bucket_seconds),
                record_ids=tuple(sorted(m[0] for m in group)),
            )
        )
    return events


def mark_reported(session: Session, events: Iterable[MeterEvent], now: datetime) -> int:
    """Stripe took these events: their records are reported (report_id stays the identifier)."""
    ids = [rid for event in events for rid in event.record_ids]
    count = 0
    for part in range(0, len(ids), 1000):
        result = session.execute(
            update(UsageRecord)
            .where(
                UsageRecord.id.in_(ids[part : part + 1000]), UsageRecord.report_status == PENDING
            )
            .values(report_status=ReportStatus.REPORTED.value, reported_at=now, report_error=None)
            .execution_options(synchronize_session=False)
        )
        count += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return count


def mark_rejected(
    session: Session, rejected: Iterable[tuple[MeterEvent, str]], now: datetime
) -> int:
    """Stripe refused these events for good: their records are rejected, with the reason."""
    count = 0
    for event, reason in rejected:
        result = session.execute(
            update(UsageRecord)
            .where(UsageRecord.id.in_(event.record_ids), UsageRecord.report_status == PENDING)
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
