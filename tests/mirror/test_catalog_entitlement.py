"""Plan catalog loading and the pure entitlement rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from domain.mirror.entitlement import SubscriptionFacts, billing_status, choose_subscription
from domain.mirror.statuses import SubscriptionStatus as S
from domain.plans import CatalogError, load_catalog
from domain.settings import load_settings

NOW = datetime(2026, 3, 10, tzinfo=UTC)
GRACE = timedelta(days=7)


def test_bundled_catalog_maps_prices_to_tier_and_interval() -> None:
    catalog = load_catalog()
    assert {(p.tier, p.interval) for p in catalog.plans} == {
        (t, i) for t in ("starter", "pro", "business") for i in ("month", "year")
    }
    assert catalog.lookup("price_business_year").tier == "business"
    assert catalog.lookup("price_business_year").interval == "year"
    assert catalog.by_price("price_pro_month").amount == 2900  # type: ignore[union-attr]
    assert catalog.lookup("price_not_sold", "week").tier == "unknown"
    assert catalog.lookup("price_not_sold", "week").interval == "week"


def test_plan_catalog_setting_points_at_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "plans.json"
    path.write_text(
        '{"plans": [{"tier": "team", "interval": "month", "price_id": "price_t",'
        ' "amount": 4900, "currency": "EUR"}]}'
    )
    catalog = load_catalog(load_settings(plan_catalog=str(path)).plan_catalog)
    assert catalog.lookup("price_t").tier == "team"
    assert catalog.by_price("price_t").currency == "eur"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[[plans]]\ntier="a"\ninterval="month"\nprice_id="p"\namount=9.99\ncurrency="eur"',
            "integer",
        ),
        (
            '[[plans]]\ntier="a"\ninterval="fortnight"\nprice_id="p"\namount=1\ncurrency="eur"',
            "interval",
        ),
        ('[[plans]]\ntier="a"\ninterval="month"\namount=1\ncurrency="eur"', "price_id"),
        ("plans = []", "non-empty"),
    ],
)
def test_bad_catalog_is_rejected_with_a_clear_message(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "plans.toml"
    path.write_text(body)
    with pytest.raises(CatalogError, match=message):
        load_catalog(path)


def facts(
    status: S,
    *,
    unpaid_days_ago: float | None = None,
    sub_id: str = "sub_1",
    created_days_ago: int = 30,
) -> SubscriptionFacts:
    return SubscriptionFacts(
        id=sub_id,
        status=status,
        plan_tier="pro",
        plan_interval="month",
        price_id="price_pro_month",
        current_period_start=NOW - timedelta(days=2),
        current_period_end=NOW + timedelta(days=28),
        cancel_at_period_end=False,
        created=NOW - timedelta(days=created_days_ago),
        unpaid_since=NOW - timedelta(days=unpaid_days_ago) if unpaid_days_ago is not None else None,
    )


@pytest.mark.parametrize(
    ("sub", "deleted", "entitled"),
    [
        (facts(S.ACTIVE), False, True),
        (facts(S.TRIALING), False, True),
        (facts(S.PAST_DUE, unpaid_days_ago=6.9), False, True),
        (facts(S.PAST_DUE, unpaid_days_ago=7.1), False, False),
        (facts(S.PAST_DUE), False, True),  # no failed invoice known: grace from period start
        (facts(S.UNPAID), False, False),
        (facts(S.CANCELED), False, False),
        (facts(S.INCOMPLETE), False, False),
        (facts(S.ACTIVE), True, False),
    ],
)
def test_entitlement_rule(sub: SubscriptionFacts, deleted: bool, entitled: bool) -> None:
    status = billing_status("acct", [sub], None, deleted=deleted, now=NOW, grace=GRACE)
    assert status.entitled is entitled
    assert (status.plan_tier, status.status) == ("pro", sub.status)


def test_grace_period_is_configurable() -> None:
    sub = facts(S.PAST_DUE, unpaid_days_ago=3)
    assert (
        billing_status("a", [sub], None, deleted=False, now=NOW, grace=timedelta(days=2)).entitled
        is False
    )
    assert load_settings().entitlement_grace_days == 7
    assert load_settings(entitlement_grace_days=2).entitlement_grace_days == 2


def test_the_live_subscription_speaks_for_the_account() -> None:
    old = facts(S.CANCELED, sub_id="sub_old", created_days_ago=400)
    new = facts(S.ACTIVE, sub_id="sub_new", created_days_ago=10)
    newer_incomplete = facts(S.INCOMPLETE, sub_id="sub_inc", created_days_ago=1)
    assert choose_subscription([old, newer_incomplete, new]).id == "sub_new"  # type: ignore[union-attr]
    assert choose_subscription([]) is None
