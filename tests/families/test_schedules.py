"""The subscription schedules family's pure core: parse (both shapes), next phase, rank,
transition."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from domain.mirror.families import schedules
from domain.mirror.families.schedules import ScheduleStatus, parse_schedule, schedule_shape
from domain.mirror.ordering import TERMINAL_WEIGHT, Stamp
from domain.mirror.stripe_json import ApiShape, ViewError
from tests.families.support import T, decide, envelope, stamp
from tests.mirror import factory as f
from tests.mirror import factory_plans as fp
from tests.mirror.factory import DAY
from tests.mirror.factory_plans import T0
from tests.support.db import column_length

FAMILY = schedules.FAMILY
NEXT_S = T0 + 30 * DAY
NEXT = datetime.fromtimestamp(NEXT_S, UTC)


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_both_shapes_give_the_next_phase(shape: ApiShape) -> None:
    obj = fp.schedule(
        "sub_sched_1", "cus_1", "active", shape=shape, subscription="sub_1", current=(T0, NEXT_S)
    )
    view = parse_schedule(obj, f.api_version(shape))
    assert (view.shape, view.status, view.subscription_id) == (
        shape,
        ScheduleStatus.ACTIVE,
        "sub_1",
    )
    assert (view.current_phase_start, view.current_phase_end) == (at(T0), NEXT)
    assert view.next_phase is not None
    assert view.next_phase.start == NEXT
    assert view.next_phase.primary is not None
    assert (view.next_phase.primary.price_id, view.next_phase.primary.quantity) == (
        "price_business_month",
        3,
    )


def test_the_payload_decides_the_shape_before_the_version() -> None:
    legacy = fp.schedule("sub_sched_1", "cus_1", "active", shape=ApiShape.LEGACY)
    current = fp.schedule("sub_sched_1", "cus_1", "active")
    assert schedule_shape(legacy, f.api_version(ApiShape.CURRENT)) is ApiShape.LEGACY
    assert schedule_shape(current, f.api_version(ApiShape.LEGACY)) is ApiShape.LEGACY
    assert schedule_shape(current, f.api_version(ApiShape.CURRENT)) is ApiShape.CURRENT


def test_a_not_started_schedule_changes_at_its_first_phase() -> None:
    obj = fp.schedule("sub_sched_1", "cus_1", "not_started")
    view = parse_schedule(obj)
    assert view.next_phase is not None
    assert view.next_phase.start == at(T0)
    assert view.next_phase.primary is not None
    assert view.next_phase.primary.price_id == "price_pro_month"


def test_phases_are_taken_by_date_not_by_position() -> None:
    later = fp.phase(NEXT_S, NEXT_S + 30 * DAY, "price_business_year")
    now = fp.phase(T0, NEXT_S, "price_pro_month")
    obj = fp.schedule("s", "cus_1", "active", phases=[later, now], current=(T0, NEXT_S))
    view = parse_schedule(obj)
    assert view.next_phase is not None and view.next_phase.primary is not None
    assert view.next_phase.primary.price_id == "price_business_year"


def test_the_last_phase_running_leaves_nothing_pending() -> None:
    obj = fp.schedule("s", "cus_1", "active", current=(NEXT_S, NEXT_S + 30 * DAY))
    assert parse_schedule(obj).next_phase is None


@pytest.mark.parametrize("status", ["released", "canceled", "completed"])
def test_an_ended_schedule_has_no_next_phase(status: str) -> None:
    view = parse_schedule(fp.schedule("s", "cus_1", status, released_subscription="sub_1"))
    assert view.status == status and view.next_phase is None
    assert view.released_subscription_id == "sub_1"


def test_phase_lines_in_older_forms() -> None:
    """`plans` (before 2019-12-03) with a plan id; `items` with an expanded price."""
    obj = fp.schedule("s", "cus_1", "not_started")
    obj["phases"][0].pop("items")
    obj["phases"][0]["plans"] = [{"plan": "price_starter_year", "quantity": 2}]
    expanded = {"id": "price_x", "recurring": {"interval": "week"}}
    obj["phases"][1]["items"] = [{"price": expanded, "quantity": None}]
    view = parse_schedule(obj)
    assert view.next_phase is not None and view.next_phase.primary is not None
    assert view.next_phase.primary.price_id == "price_starter_year"
    assert view.next_phase.primary.quantity == 2
    line = schedules.parse_phase(obj["phases"][1]).primary
    assert line is not None and (line.price_id, line.interval) == ("price_x", "week")


def test_odd_payloads_are_mirrored_not_refused() -> None:
    obj = fp.schedule("s", None, "active")
    obj.update(phases=None, current_phase="?", end_behavior=7, customer={"id": "cus_x"})
    view = parse_schedule(obj)
    assert (view.customer_id, view.next_phase, view.end_behavior) == ("cus_x", None, None)
    obj["phases"] = [{"start_date": "soon", "items": "many"}, 5, {"items": [7]}]
    assert parse_schedule(obj).next_phase is None
    with pytest.raises(ViewError, match="id"):
        parse_schedule({**obj, "id": None})


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"canceled_at": T}, ScheduleStatus.CANCELED),
        ({"released_at": T}, ScheduleStatus.RELEASED),
        ({"completed_at": T}, ScheduleStatus.COMPLETED),
        ({"current_phase": {"start_date": T, "end_date": T + 1}}, ScheduleStatus.ACTIVE),
        ({}, ScheduleStatus.NOT_STARTED),
    ],
)
def test_an_unknown_status_is_read_from_the_dates(extra: dict[str, Any], expected: str) -> None:
    obj = fp.schedule("s", "cus_1", "not_started")
    obj.update({"status": "paused_by_stripe", "current_phase": None, **extra})
    assert parse_schedule(obj).status == expected


def sched_event(event_type: str, status: str, event_id: str = "evt_1") -> Any:
    obj = fp.schedule("sub_sched_1", "cus_1", status, subscription="sub_1")
    return envelope(event_type, obj, T, event_id=event_id)


def test_same_second_ties_follow_the_lifecycle() -> None:
    def rank(event_type: str, status: str, event_id: str = "evt_a") -> Stamp:
        return stamp(FAMILY, sched_event(event_type, status, event_id))

    created = rank("subscription_schedule.created", "not_started", "evt_z")
    updated = rank("subscription_schedule.updated", "not_started")
    active = rank("subscription_schedule.updated", "active")
    assert created < updated < active
    for event_type, status in [
        ("subscription_schedule.released", "released"),
        ("subscription_schedule.canceled", "canceled"),
        ("subscription_schedule.aborted", "canceled"),
        ("subscription_schedule.completed", "completed"),
    ]:
        ended = rank(event_type, status)
        assert ended.rank >= TERMINAL_WEIGHT
        assert ended > rank("subscription_schedule.updated", "active", "evt_zz")
    assert rank("subscription_schedule.expiring", "active").rank < TERMINAL_WEIGHT


def test_the_row_names_the_next_phase_by_the_catalog() -> None:
    obj = fp.schedule("sub_sched_1", "cus_1", "active", subscription="sub_1", current=(T0, NEXT_S))
    row = decide(FAMILY, envelope("subscription_schedule.updated", obj, T))
    assert row["id"] == "sub_sched_1" and row["status"] == ScheduleStatus.ACTIVE
    assert (row["next_price_id"], row["next_plan_tier"], row["next_plan_interval"]) == (
        "price_business_month",
        "business",
        "month",
    )
    assert (row["next_quantity"], row["next_effective_at"]) == (3, NEXT)
    assert row["stripe_customer_id"] == "cus_1" and row["subscription_id"] == "sub_1"
    assert row["last_event_created"] == T and row["raw"] == obj


def test_a_price_outside_the_catalog_keeps_stripes_interval() -> None:
    phases = [fp.phase(T0, NEXT_S, "price_unknown")]
    phases[0]["items"][0]["plan"]["interval"] = "year"
    row = decide(
        FAMILY,
        envelope(
            "subscription_schedule.created",
            fp.schedule("s", "cus_1", "not_started", phases=phases),
            T,
        ),
    )
    assert (row["next_price_id"], row["next_plan_tier"], row["next_plan_interval"]) == (
        "price_unknown",
        "unknown",
        "year",
    )


def test_a_released_schedule_clears_the_pending_change() -> None:
    obj = fp.schedule("s", "cus_1", "released", released_subscription="sub_1")
    row = decide(FAMILY, envelope("subscription_schedule.released", obj, T))
    assert row["status"] == ScheduleStatus.RELEASED
    assert row["next_price_id"] is row["next_effective_at"] is row["next_plan_tier"] is None
    assert row["released_subscription_id"] == "sub_1" and row["released_at"] == at(T0 + DAY)


def test_an_older_event_writes_nothing() -> None:
    newer = stamp(FAMILY, sched_event("subscription_schedule.updated", "active", "evt_2"))
    older = envelope(
        "subscription_schedule.created",
        fp.schedule("sub_sched_1", "cus_1", "not_started"),
        T - 1,
    )
    assert decide(FAMILY, older, newer) is None


def test_strings_stripe_may_extend_fit_their_columns() -> None:
    obj = fp.schedule("s", "cus_1", "not_started", end_behavior="renew_forever_and_ever")
    obj["phases"][0]["items"][0]["plan"]["interval"] = "fortnight_or_so_longer"
    obj["phases"][0]["items"][0]["price"] = "price_not_in_catalog"
    row = decide(FAMILY, envelope("subscription_schedule.created", obj, T))
    columns = schedules.SCHEDULES.c
    assert row["end_behavior"] == "renew_forever_an"
    assert len(row["end_behavior"]) <= column_length(columns.end_behavior)
    assert len(row["next_plan_interval"]) <= column_length(columns.next_plan_interval)
