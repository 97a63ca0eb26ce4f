"""The subscriptions family's pure core: parse (both shapes), rank, transition, notices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from domain.envelope import EventEnvelope
from domain.mirror.families import subscriptions
from domain.mirror.families.subscriptions.view import parse_subscription, previous_price_id
from domain.mirror.ordering import TERMINAL_WEIGHT, Stamp, supersedes
from domain.mirror.statuses import SubscriptionStatus
from domain.mirror.stripe_json import ApiShape, ViewError
from tests.families.support import DEPS, T, decide, envelope, incoming, stamp
from tests.mirror import factory as f

FAMILY = subscriptions.FAMILY
PERIOD = (T, T + 30 * f.DAY)


def sub_event(
    event_type: str,
    status: str,
    *,
    at: int = T,
    event_id: str = "evt_1",
    previous: dict[str, Any] | None = None,
    price_id: str = "price_pro_month",
    quantity: int = 1,
) -> EventEnvelope:
    obj = f.subscription(
        "sub_1", "cus_1", status, period=PERIOD, price_id=price_id, quantity=quantity
    )
    return envelope(event_type, obj, at, event_id=event_id, previous=previous)


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_both_shapes_parse_to_the_same_period(shape: ApiShape) -> None:
    obj = f.subscription("sub_1", "cus_1", "active", shape=shape, period=PERIOD)
    view = parse_subscription(obj, f.api_version(shape))
    assert view.shape is shape
    assert (view.current_period_start, view.current_period_end) == tuple(
        datetime.fromtimestamp(t, UTC) for t in PERIOD
    )
    item = view.plan_item()
    assert item is not None and item.price_id == "price_pro_month"
    assert (view.customer_id, view.status, view.currency) == ("cus_1", "active", "eur")


def test_the_payload_decides_the_shape_and_the_api_version_breaks_ties() -> None:
    obj = f.subscription("sub_1", "cus_1", "active", period=PERIOD)
    for item in obj["items"]["data"]:
        item.pop("current_period_end")
        item.pop("current_period_start")
    assert parse_subscription(obj, "2024-06-20").shape is ApiShape.LEGACY
    assert parse_subscription(obj, f.api_version(ApiShape.CURRENT)).shape is ApiShape.CURRENT
    legacy = f.subscription("sub_1", "cus_1", "active", shape=ApiShape.LEGACY, period=PERIOD)
    assert parse_subscription(legacy, f.api_version(ApiShape.CURRENT)).shape is ApiShape.LEGACY


def test_old_items_carry_their_price_under_plan() -> None:
    obj = f.subscription("sub_1", "cus_1", "active", shape=ApiShape.LEGACY, period=PERIOD)
    item = obj["items"]["data"][0]
    item["plan"] = {"id": "price_pro_year", "interval": "year", "amount": 29000, "currency": "EUR"}
    del item["price"]
    [parsed] = parse_subscription(obj).items
    assert (parsed.price_id, parsed.interval, parsed.unit_amount, parsed.currency) == (
        "price_pro_year",
        "year",
        29000,
        "eur",
    )


def test_what_cannot_be_mirrored_is_refused() -> None:
    with pytest.raises(ViewError, match="status"):
        parse_subscription({"id": "sub_1", "status": "dormant"})
    with pytest.raises(ViewError, match="without an id"):
        parse_subscription({"status": "active"})


def test_same_second_ties_follow_the_lifecycle() -> None:
    at = lambda t, s, i: stamp(FAMILY, sub_event(t, s, event_id=i))  # noqa: E731
    updated = "customer.subscription.updated"
    canceled = at("customer.subscription.deleted", "canceled", "evt_a")
    assert canceled.rank >= TERMINAL_WEIGHT
    assert canceled > at(updated, "active", "evt_z")  # terminal wins whatever the id
    assert at(updated, "active", "evt_a") > at(updated, "incomplete", "evt_z")
    assert at(updated, "past_due", "evt_a") > at(updated, "active", "evt_z")
    created = at("customer.subscription.created", "active", "evt_z")
    assert at(updated, "active", "evt_a") > created  # an update follows its creation
    assert at(updated, "incomplete_expired", "evt_a").rank >= TERMINAL_WEIGHT
    # Across seconds only `created` counts.
    later = stamp(FAMILY, sub_event(updated, "incomplete", at=T + 1, event_id="evt_a"))
    assert later > canceled


def test_transition_writes_the_row_and_every_item_with_the_catalog_plan() -> None:
    event = sub_event(
        "customer.subscription.updated", "active", price_id="price_pro_year", quantity=3
    )
    change = decide(FAMILY, event)
    row = change.row
    assert (row["id"], row["stripe_customer_id"], row["status"]) == (
        "sub_1",
        "cus_1",
        SubscriptionStatus.ACTIVE,
    )
    assert (row["plan_tier"], row["plan_interval"], row["quantity"]) == ("pro", "year", 3)
    assert (row["unit_amount"], row["currency"]) == (29000, "eur")
    assert row["current_period_end"] == datetime.fromtimestamp(PERIOD[1], UTC)
    assert (row["last_event_created"], row["last_event_id"]) == (T, "evt_1")
    [item] = change.items
    assert (item["id"], item["subscription_id"], item["plan_tier"]) == ("si_sub_1", "sub_1", "pro")
    assert item["last_event_rank"] == row["last_event_rank"]


def test_unknown_prices_keep_stripes_interval_and_an_unknown_tier() -> None:
    change = decide(
        FAMILY, sub_event("customer.subscription.created", "active", price_id="price_x")
    )
    assert (change.row["plan_tier"], change.row["plan_interval"]) == ("unknown", "month")


def test_an_older_event_changes_nothing() -> None:
    newer = Stamp(T + 1, 0, "evt_0")
    assert decide(FAMILY, sub_event("customer.subscription.updated", "active"), newer) is None
    same = stamp(FAMILY, sub_event("customer.subscription.updated", "active"))
    assert decide(FAMILY, sub_event("customer.subscription.updated", "active"), same) is not None
    assert supersedes(same, same)  # a replay re-applies identical content


def kinds(event: EventEnvelope) -> list[str]:
    view, inc = incoming(FAMILY, event)
    return [n.kind.value for n in FAMILY.notices(view, inc)]


def test_notices_come_from_the_event_alone() -> None:
    created = sub_event("customer.subscription.created", "active")
    assert kinds(created) == ["subscription_activated"]
    assert kinds(sub_event("customer.subscription.created", "incomplete")) == []
    started = sub_event("customer.subscription.updated", "active", previous={"status": "trialing"})
    assert kinds(started) == ["subscription_activated"]
    unchanged = sub_event("customer.subscription.updated", "active", previous={"quantity": 1})
    assert kinds(unchanged) == []
    assert kinds(sub_event("customer.subscription.deleted", "canceled")) == [
        "subscription_canceled"
    ]
    assert kinds(sub_event("customer.subscription.trial_will_end", "trialing")) == [
        "trial_will_end"
    ]


def test_a_price_change_is_a_plan_change_with_the_old_tier() -> None:
    old_item = f.subscription("sub_1", "cus_1", "active")["items"]["data"][0]
    event = sub_event(
        "customer.subscription.updated",
        "active",
        price_id="price_business_month",
        previous={"items": {"data": [old_item]}},
    )
    view, inc = incoming(FAMILY, event)
    [notice] = FAMILY.notices(view, inc)
    assert notice.kind.value == "subscription_plan_changed"
    assert (notice.payload["price_id"], notice.payload["plan_tier"]) == (
        "price_business_month",
        "business",
    )
    assert (notice.payload["previous_price_id"], notice.payload["previous_plan_tier"]) == (
        "price_pro_month",
        "pro",
    )
    assert previous_price_id({"plan": {"id": "price_old"}}) == "price_old"  # pre-2025
    assert inc.deps is DEPS


def test_the_pay_as_you_go_item_is_never_taken_for_the_plan() -> None:
    """Stripe may list the metered item first; the plan is still the plan."""
    obj = f.subscription("sub_1", "cus_1", "active")
    plan_item = obj["items"]["data"][0]
    metered = {**plan_item, "id": "si_payg", "price": {**plan_item["price"], "id": "price_payg"}}
    obj["items"]["data"] = [metered, plan_item]
    view = parse_subscription(obj, f.api_version(ApiShape.CURRENT))
    assert view.plan_item("price_payg").price_id == "price_pro_month"  # type: ignore[union-attr]
    assert view.plan_item().price_id == "price_payg"  # type: ignore[union-attr]  # no catalog price
    previous = {"items": {"data": [metered, plan_item]}}
    assert previous_price_id(previous, "price_payg") == "price_pro_month"


def test_a_subscription_with_the_metered_item_first_keeps_its_plan_tier() -> None:
    payg = DEPS.catalog.payg_price_id
    assert payg is not None  # the bundled catalog sells pay-as-you-go
    obj = f.subscription("sub_1", "cus_1", "active")
    plan_item = obj["items"]["data"][0]
    metered = {**plan_item, "id": "si_payg", "price": {**plan_item["price"], "id": payg}}
    obj["items"]["data"] = [metered, plan_item]
    result = decide(subscriptions.FAMILY, envelope("customer.subscription.updated", obj))
    assert (result.row["price_id"], result.row["plan_tier"]) == ("price_pro_month", "pro")
    assert len(result.items) == 2  # both items are still mirrored
