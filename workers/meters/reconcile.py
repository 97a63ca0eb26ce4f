"""`billing usage reconcile`: our reported usage per account, meter and day vs Stripe's
meter event summaries (`GET /v1/billing/meters/{id}/event_summaries`, one call per
customer and meter, daily windows)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from domain.usage.reconcile import Difference, Key, differences
from domain.usage.report_store import reported_per_day
from workers.stripe_gateway import Obj

DAY = timedelta(days=1)


class SummaryGateway(Protocol):
    def list_meters(self) -> list[Obj]: ...

    def meter_event_summaries(self, meter_id: str, params: Obj) -> list[Obj]: ...


def day_start(when: datetime) -> datetime:
    return datetime(when.year, when.month, when.day, tzinfo=UTC)


def meter_ids(gateway: SummaryGateway, configured: Mapping[str, str]) -> dict[str, str]:
    """event_name -> meter id: METER_IDS first, else Stripe's list of active meters."""
    if configured:
        return dict(configured)
    return {str(m["event_name"]): str(m["id"]) for m in gateway.list_meters()}


def reconcile(
    sessions: sessionmaker[Session],
    gateway: SummaryGateway,
    since: datetime,
    now: datetime,
    configured_meters: Mapping[str, str],
) -> tuple[list[Difference], list[str]]:
    """Differences from the start of `since`'s day to the end of today; meters we reported
    that have no known meter id are returned by name (not compared)."""
    start, end = day_start(since), day_start(now) + DAY
    with sessions() as session:
        ours = reported_per_day(session, start, end)
    ids = meter_ids(gateway, configured_meters) if ours else {}
    unknown = sorted({r.meter for r in ours} - set(ids))
    stripe: dict[Key, int] = {}
    for customer, meter in sorted({(r.customer, r.meter) for r in ours if r.customer}):
        if meter not in ids:
            continue
        params = {
            "customer": customer,
            "start_time": int(start.timestamp()),
            "end_time": int(end.timestamp()),
            "value_grouping_window": "day",
        }
        for summary in gateway.meter_event_summaries(ids[meter], params):
            day: date = datetime.fromtimestamp(int(summary["start_time"]), UTC).date()
            value = round(float(summary.get("aggregated_value") or 0))
            if value:
                stripe[(customer, meter, day)] = stripe.get((customer, meter, day), 0) + value
    ours_known = [r for r in ours if r.meter in ids]
    return differences(ours_known, stripe), unknown
