"""subscription_schedule.* events -> subscription_schedules: a scheduled plan change.

A schedule is a list of phases Stripe applies to a subscription over time ("switches to
Pro on 1 January"). The mirror keeps the schedule's state and its *next* phase (the first
one that has not started: its price, the catalog's tier and interval for that price, its
quantity and when it takes effect); the subscription view shows it as `pending_change`.

Both API shapes: from 2025-03-31 ("basil") a phase has no singular `coupon` (only
`discounts`); before, phases carry `coupon`. Phase lines are `items` (with `price`, and the
legacy `plan` object beside it); before 2019-12-03 they were `plans` (`plan` only).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Index, Integer, String, Table, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from domain.envelope import EventEnvelope
from domain.mirror.families._family import Family, Incoming, Refs, Row
from domain.mirror.families._read import Listing, ReadShape, Related
from domain.mirror.ordering import tie_rank
from domain.mirror.statuses import enum_type
from domain.mirror.stripe_json import (
    ApiShape,
    opt_int,
    opt_str,
    ref_id,
    require_id,
    shape_from_version,
    sub,
    ts,
)
from domain.mirror.tables import ID, Stamped, stamp_columns
from domain.models import Base
from domain.types import JSONType, UTCDateTime


class ScheduleStatus(StrEnum):
    """Stripe's subscription schedule statuses."""

    NOT_STARTED = "not_started"
    ACTIVE = "active"
    COMPLETED = "completed"
    RELEASED = "released"
    CANCELED = "canceled"


# A schedule Stripe still applies: its next phase is a pending change of its subscription.
PENDING = frozenset({ScheduleStatus.NOT_STARTED, ScheduleStatus.ACTIVE})


@dataclass(frozen=True, slots=True)
class PhaseItem:
    """One price line of a phase (the first is the plan, as for subscriptions)."""

    price_id: str | None
    interval: str | None  # Stripe's own interval, when the payload carries the price or plan
    quantity: int | None


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase of a schedule: when it runs and what it bills."""

    start: datetime | None
    end: datetime | None
    items: tuple[PhaseItem, ...]

    @property
    def primary(self) -> PhaseItem | None:
        return self.items[0] if self.items else None


@dataclass(frozen=True, slots=True)
class ScheduleView:
    """A subscription schedule with its next phase picked out."""

    id: str
    customer_id: str | None
    subscription_id: str | None
    status: ScheduleStatus
    end_behavior: str | None
    current_phase_start: datetime | None
    current_phase_end: datetime | None
    next_phase: Phase | None
    released_subscription_id: str | None
    canceled_at: datetime | None
    completed_at: datetime | None
    released_at: datetime | None
    created: datetime | None
    shape: ApiShape
    raw: dict[str, Any] = field(repr=False)


def _phases(obj: dict[str, Any]) -> list[dict[str, Any]]:
    phases = obj.get("phases")
    return [p for p in phases if isinstance(p, dict)] if isinstance(phases, list) else []


def schedule_shape(obj: dict[str, Any], api_version: str | None) -> ApiShape:
    """A phase's singular `coupon` key means pre-2025 (basil removed it); else the version."""
    if any("coupon" in p for p in _phases(obj)):
        return ApiShape.LEGACY
    return shape_from_version(api_version)


def short(value: Any, length: int = 16) -> str | None:
    """An enum-like string Stripe may extend (`release`, `month`), bounded to its column."""
    text = opt_str(value)
    return text[:length] if text else None


def _interval(value: Any) -> str | None:
    if not isinstance(value, dict):
        return None
    return short(sub(value, "recurring", "interval")) or short(value.get("interval"))


def parse_phase_item(obj: dict[str, Any]) -> PhaseItem:
    """`price` (an id or an expanded price) first; `plan` (id or object) for old payloads."""
    price, plan = obj.get("price"), obj.get("plan")
    price_id = ref_id(price) or ref_id(plan)
    interval = _interval(price) or _interval(plan)
    return PhaseItem(price_id, interval, opt_int(obj.get("quantity")))


def parse_phase(obj: dict[str, Any]) -> Phase:
    lines = obj.get("items") if isinstance(obj.get("items"), list) else obj.get("plans")
    lines = lines if isinstance(lines, list) else []
    items = tuple(parse_phase_item(i) for i in lines if isinstance(i, dict))
    return Phase(ts(obj.get("start_date")), ts(obj.get("end_date")), items)


def next_phase(phases: Sequence[Phase], current_start: datetime | None) -> Phase | None:
    """The first phase starting after the current one (before any started: the first)."""
    dated = sorted(((p.start, n, p) for n, p in enumerate(phases) if p.start is not None))
    later = (p for start, _, p in dated if current_start is None or start > current_start)
    return next(later, None)


def schedule_status(obj: dict[str, Any]) -> ScheduleStatus:
    """Stripe's status; a status this code does not know is read from the object's dates
    (a new status must not dead-letter the event)."""
    try:
        return ScheduleStatus(str(obj.get("status")))
    except ValueError:
        pass
    if obj.get("canceled_at") is not None:
        return ScheduleStatus.CANCELED
    if obj.get("released_at") is not None:
        return ScheduleStatus.RELEASED
    if obj.get("completed_at") is not None:
        return ScheduleStatus.COMPLETED
    if isinstance(obj.get("current_phase"), dict):
        return ScheduleStatus.ACTIVE
    return ScheduleStatus.NOT_STARTED


def parse_schedule(obj: dict[str, Any], api_version: str | None = None) -> ScheduleView:
    """Parse a subscription schedule in either API shape."""
    status = schedule_status(obj)
    current_start = ts(sub(obj, "current_phase", "start_date"))
    phases = [parse_phase(p) for p in _phases(obj)]
    # Only a schedule Stripe still applies has a next phase to show.
    upcoming = next_phase(phases, current_start) if status in PENDING else None
    return ScheduleView(
        id=require_id(obj, "subscription schedule"),
        customer_id=ref_id(obj.get("customer")),
        subscription_id=ref_id(obj.get("subscription")),
        status=status,
        end_behavior=short(obj.get("end_behavior")),
        current_phase_start=current_start,
        current_phase_end=ts(sub(obj, "current_phase", "end_date")),
        next_phase=upcoming,
        released_subscription_id=ref_id(obj.get("released_subscription")),
        canceled_at=ts(obj.get("canceled_at")),
        completed_at=ts(obj.get("completed_at")),
        released_at=ts(obj.get("released_at")),
        created=ts(obj.get("created")),
        shape=schedule_shape(obj, api_version),
        raw=obj,
    )


def schedule_refs(view: ScheduleView, event: EventEnvelope) -> Refs:
    return Refs(view.id, view.customer_id)


SCHEDULE_RANK = {
    ScheduleStatus.NOT_STARTED: 0,
    ScheduleStatus.ACTIVE: 1,
    ScheduleStatus.COMPLETED: 2,
    ScheduleStatus.RELEASED: 3,
    ScheduleStatus.CANCELED: 4,
}
# Stripe never restarts a schedule that was released, canceled (or aborted) or completed.
SCHEDULE_TERMINAL = frozenset(
    {ScheduleStatus.COMPLETED, ScheduleStatus.RELEASED, ScheduleStatus.CANCELED}
)
# Same second, same status: creation first, the ending events last.
TYPE_PROGRESS = {
    "subscription_schedule.created": 0,
    "subscription_schedule.updated": 1,
    "subscription_schedule.expiring": 1,
}
ENDING_PROGRESS = 2


def schedule_rank(view: ScheduleView, event_type: str) -> int:
    """Terminal status, lifecycle position, then the event type's place."""
    return tie_rank(
        terminal=view.status in SCHEDULE_TERMINAL,
        status_rank=SCHEDULE_RANK[view.status],
        progress=TYPE_PROGRESS.get(event_type, ENDING_PROGRESS),
    )


def schedule_transition(view: ScheduleView, incoming: Incoming[None]) -> Row:
    """The schedule's row; the next phase's tier and interval come from the plan catalog."""
    phase = view.next_phase
    item = phase.primary if phase else None
    plan = incoming.deps.catalog.lookup(item.price_id, item.interval) if item else None
    return {
        "id": view.id,
        "stripe_customer_id": view.customer_id,
        "subscription_id": view.subscription_id,
        "status": view.status,
        "end_behavior": view.end_behavior,
        "current_phase_start": view.current_phase_start,
        "current_phase_end": view.current_phase_end,
        "next_price_id": item.price_id if item else None,
        "next_plan_tier": plan.tier if plan else None,
        "next_plan_interval": plan.interval if plan else None,
        "next_quantity": item.quantity if item else None,
        "next_effective_at": phase.start if phase else None,
        "released_subscription_id": view.released_subscription_id,
        "canceled_at": view.canceled_at,
        "completed_at": view.completed_at,
        "released_at": view.released_at,
        "stripe_created": view.created,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }


class SubscriptionSchedule(Stamped, Base):
    """A Stripe subscription schedule and its next phase (null once nothing is pending)."""

    __tablename__ = "subscription_schedules"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    stripe_customer_id: Mapped[str | None] = mapped_column(ID)
    subscription_id: Mapped[str | None] = mapped_column(ID, index=True)
    status: Mapped[ScheduleStatus] = mapped_column(
        enum_type(ScheduleStatus, "subscription_schedule_status", 16)
    )
    end_behavior: Mapped[str | None] = mapped_column(String(16))
    current_phase_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    current_phase_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_price_id: Mapped[str | None] = mapped_column(ID)
    next_plan_tier: Mapped[str | None] = mapped_column(String(64))
    next_plan_interval: Mapped[str | None] = mapped_column(String(16))
    next_quantity: Mapped[int | None] = mapped_column(Integer)
    next_effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_subscription_id: Mapped[str | None] = mapped_column(ID)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stripe_created: Mapped[datetime | None] = mapped_column(UTCDateTime())
    raw: Mapped[dict[str, Any]] = mapped_column(JSONType)

    __table_args__ = (
        Index("ix_subscription_schedules_customer_created", "stripe_customer_id", "stripe_created"),
    )


SCHEDULES: Table = SubscriptionSchedule.__table__  # type: ignore[assignment]


class PendingChangeOut(BaseModel):
    """The next phase of the subscription's schedule: what it switches to, and when."""

    schedule_id: str
    price_id: str | None
    plan_tier: str | None
    plan_interval: str | None
    quantity: int | None
    effective_at: datetime | None


def pending_changes(
    session: Session, subscriptions: Sequence[Any]
) -> Mapping[str, PendingChangeOut]:
    """subscription id -> the next phase of its pending schedule (one query for all rows).

    Stripe lets a subscription have at most one schedule at a time; should the mirror hold
    two pending ones (a release not seen yet), the one whose change comes first is shown.
    """
    ids = [s.id for s in subscriptions]
    if not ids:
        return {}
    found = session.execute(
        select(SCHEDULES)
        .where(SCHEDULES.c.subscription_id.in_(ids))
        .where(SCHEDULES.c.status.in_(sorted(PENDING)))
        .where(SCHEDULES.c.next_effective_at.is_not(None))
        .order_by(SCHEDULES.c.next_effective_at.desc(), SCHEDULES.c.id.desc())
    ).all()
    return {
        r.subscription_id: PendingChangeOut(
            schedule_id=r.id,
            price_id=r.next_price_id,
            plan_tier=r.next_plan_tier,
            plan_interval=r.next_plan_interval,
            quantity=r.next_quantity,
            effective_at=r.next_effective_at,
        )
        for r in found  # later rows (earlier changes) overwrite: the first change wins
    }


LISTING = Listing(
    summary="Subscription schedules, newest first",
    shape=ReadShape(
        "SubscriptionSchedule",
        SCHEDULES,
        "A subscription schedule of the account: its state and its next phase (`next_*`,"
        " null when no phase is pending); tier and interval from the plan catalog.",
    ),
    status=ScheduleStatus,
)

FAMILY = Family(
    name="subscription-schedules",
    object_type="subscription_schedule",
    event_types=(
        "subscription_schedule.created",
        "subscription_schedule.updated",
        "subscription_schedule.expiring",
        "subscription_schedule.released",
        "subscription_schedule.canceled",
        "subscription_schedule.aborted",
        "subscription_schedule.completed",
    ),
    parse=parse_schedule,
    refs=schedule_refs,
    rank=schedule_rank,
    transition=schedule_transition,
    table=SCHEDULES,
    listing=LISTING,
    adds={
        "subscriptions": {
            "pending_change": Related(
                PendingChangeOut | None,
                pending_changes,
                doc="The next phase of the subscription's schedule (a scheduled plan change),"
                " while the schedule is not_started or active; null otherwise.",
            )
        }
    },
)
