"""The rules of reporting usage to Stripe's meters, as pure functions (no database, no HTTP).

Records are summed per account, meter and time bucket; only closed buckets are reported
(a bucket still open may get more records). Each sum is one meter event whose `identifier`
is a hash of the account, meter, bucket start and the ids of the records it sums: the same
records always give the same identifier, so a retry or a replay is deduplicated by Stripe
(which keeps identifiers for 24 hours) instead of billed twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

MAX_EVENTS_PER_REQUEST = 100  # Stripe's limit per meter event stream request
# Stripe accepts events up to 35 days old; an hour's margin for the time a report takes.
MAX_AGE = timedelta(days=35) - timedelta(hours=1)
IDENTIFIER_PREFIX = "usg_"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PendingUsage:
    """A pending record as the reporter reads it (customer: the account's Stripe customer)."""

    id: str
    account_ref: str
    meter: str
    quantity: int
    occurred_at: datetime
    customer: str | None


@dataclass(frozen=True, slots=True)
class Group:
    """One meter event to send: the sum of some records of one account, meter and bucket."""

    account_ref: str
    meter: str
    bucket_start: datetime
    record_ids: tuple[str, ...]  # sorted
    quantity: int

    @property
    def identifier(self) -> str:
        return identifier_for(self.account_ref, self.meter, self.bucket_start, self.record_ids)


def bucket_start(when: datetime, bucket_seconds: int) -> datetime:
    """The start of the bucket `when` falls in (buckets aligned to the Unix epoch, UTC)."""
    ts = int(when.timestamp())
    return datetime.fromtimestamp(ts - ts % bucket_seconds, UTC)


def is_closed(start: datetime, bucket_seconds: int, now: datetime) -> bool:
    """True once the bucket starting at `start` has ended (no more records can fall in it)."""
    return start + timedelta(seconds=bucket_seconds) <= now


def is_too_old(when: datetime, now: datetime) -> bool:
    """Stripe refuses meter events older than 35 days: such records can never be reported."""
    return when < now - MAX_AGE


def identifier_for(account_ref: str, meter: str, start: datetime, record_ids: Iterable[str]) -> str:
    """Deterministic and at most 100 characters (Stripe's limit): the same input, same id."""
    digest = hashlib.sha256()
    for part in (account_ref, meter, str(int(start.timestamp())), *sorted(record_ids)):
        digest.update(part.encode())
        digest.update(b"\x00")  # no two different lists give the same byte string
    return IDENTIFIER_PREFIX + digest.hexdigest()[:48]


def group_records(
    records: Iterable[PendingUsage], bucket_seconds: int, now: datetime
) -> list[Group]:
    """Sums per (account, meter, closed bucket); records of open buckets are left out."""
    sums: dict[tuple[str, str, datetime], list[PendingUsage]] = {}
    for record in records:
        start = bucket_start(record.occurred_at, bucket_seconds)
        if is_closed(start, bucket_seconds, now):
            sums.setdefault((record.account_ref, record.meter, start), []).append(record)
    return [
        Group(
            account_ref=account,
            meter=meter,
            bucket_start=start,
            record_ids=tuple(sorted(r.id for r in members)),
            quantity=sum(r.quantity for r in members),
        )
        for (account, meter, start), members in sorted(sums.items())
    ]


@dataclass(frozen=True, slots=True)
class Triage:
    """What to do with pending records: report, reject now (with why), or keep waiting."""

    report: list[PendingUsage]
    rejected: dict[str, str]  # record id -> reason
    waiting: int


def triage(
    records: Iterable[PendingUsage], now: datetime, unlinked_reject_after: timedelta | None
) -> Triage:
    """Records too old for Stripe are rejected; those of an account without a Stripe customer
    wait (a customer may be created, e.g. by payg.enable) until `unlinked_reject_after` after
    they occurred, then are rejected (None or zero: they wait for ever)."""
    report: list[PendingUsage] = []
    rejected: dict[str, str] = {}
    waiting = 0
    for record in records:
        if is_too_old(record.occurred_at, now):
            rejected[record.id] = "too_old: Stripe accepts meter events of the past 35 days only"
        elif record.customer is None:
            if unlinked_reject_after and record.occurred_at < now - unlinked_reject_after:
                rejected[record.id] = "no_stripe_customer: the account has no Stripe customer"
            else:
                waiting += 1
        else:
            report.append(record)
    return Triage(report, rejected, waiting)


@dataclass(frozen=True, slots=True)
class MeterEvent:
    """A claimed group, ready to send (its records are pending with report_id = identifier)."""

    identifier: str
    event_name: str
    customer: str
    value: int
    timestamp: datetime
    record_ids: tuple[str, ...]

    @property
    def record_count(self) -> int:
        return len(self.record_ids)

    def v2(self) -> dict[str, Any]:
        """The event as `POST /v2/billing/meter_event_stream` takes it."""
        return {
            "event_name": self.event_name,
            "identifier": self.identifier,
            "payload": {"stripe_customer_id": self.customer, "value": str(self.value)},
            "timestamp": self.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        }

    def v1(self) -> dict[str, Any]:
        """The event as `POST /v1/billing/meter_events` takes it."""
        return {
            "event_name": self.event_name,
            "identifier": self.identifier,
            "payload": {"stripe_customer_id": self.customer, "value": str(self.value)},
            "timestamp": int(self.timestamp.timestamp()),
        }


def chunks(items: Sequence[T], size: int = MAX_EVENTS_PER_REQUEST) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
