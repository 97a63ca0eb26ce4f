"""The entitlements, products and prices families' pure core: parse, rank, transition."""

from __future__ import annotations

import pytest

from domain.mirror.families import entitlements, prices, products
from domain.mirror.families.entitlements import parse_summary
from domain.mirror.families.prices import parse_price
from domain.mirror.families.products import parse_product
from domain.mirror.ordering import TERMINAL_WEIGHT
from domain.mirror.stripe_json import ApiShape, ViewError
from tests.families.support import T, decide, envelope, stamp
from tests.mirror import factory as f
from tests.mirror import factory_plans as fp
from tests.support.db import column_length

SUMMARY = "entitlements.active_entitlement_summary.updated"


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_a_summary_is_its_customers_sorted_distinct_lookup_keys(shape: ApiShape) -> None:
    obj = fp.entitlement_summary("cus_1", "seats", "api", "seats")
    view = parse_summary(obj, f.api_version(shape))
    assert (view.customer_id, view.features, view.has_more) == ("cus_1", ("api", "seats"), False)


def test_the_stripe_example_summary_parses() -> None:
    from domain.samples import example_object

    view = parse_summary(example_object("entitlements.active_entitlement_summary"))
    assert (view.customer_id, view.features, view.has_more) == ("customer", ("lookup_key",), True)


def test_a_lookup_key_may_come_from_the_feature_alone() -> None:
    obj = fp.entitlement_summary("cus_1", "api")
    entry = obj["entitlements"]["data"][0]
    entry["lookup_key"] = None
    obj["entitlements"]["data"].append({"id": "ent_x", "feature": "feat_unexpanded"})
    obj["entitlements"]["data"].append("junk")
    assert parse_summary(obj).features == ("api",)


def test_an_empty_or_missing_list_means_no_features() -> None:
    assert parse_summary(fp.entitlement_summary("cus_1")).features == ()
    obj = {**fp.entitlement_summary("cus_1", "api"), "entitlements": None}
    assert parse_summary(obj).features == ()


def test_a_summary_without_a_customer_is_refused() -> None:
    with pytest.raises(ViewError, match="customer"):
        parse_summary(fp.entitlement_summary(None, "api"))


def test_the_summary_row_is_keyed_by_customer_and_holds_the_list() -> None:
    event = envelope(SUMMARY, fp.entitlement_summary("cus_1", "seats", "api"))
    row = decide(entitlements.FAMILY, event)
    assert row["id"] == row["stripe_customer_id"] == "cus_1"
    assert (row["features"], row["has_more"]) == (["api", "seats"], False)
    assert entitlements.FAMILY.refs(parse_summary(event.object), event).customer_id == "cus_1"


def test_same_second_summaries_are_ordered_by_event_id_only() -> None:
    a = envelope(SUMMARY, fp.entitlement_summary("cus_1", "api", "seats"), event_id="evt_a")
    b = envelope(SUMMARY, fp.entitlement_summary("cus_1", "api"), event_id="evt_b")
    sa, sb = stamp(entitlements.FAMILY, a), stamp(entitlements.FAMILY, b)
    assert sa.rank == sb.rank and sa < sb
    assert decide(entitlements.FAMILY, a, sb) is None  # the later id keeps its list
    older = envelope(SUMMARY, fp.entitlement_summary("cus_1", "x"), T - 1, event_id="evt_z")
    assert decide(entitlements.FAMILY, older, sa) is None


def test_product_rows_and_deletion() -> None:
    view = parse_product(fp.product("prod_1", "Pro"))
    assert (view.id, view.name, view.active, view.deleted) == ("prod_1", "Pro", True, False)
    created = envelope("product.created", fp.product("prod_1"), event_id="evt_z")
    deleted = envelope("product.deleted", fp.product("prod_1", active=False), event_id="evt_a")
    row = decide(products.FAMILY, deleted)
    assert (row["active"], row["deleted"], row["name"]) == (False, True, "Pro plan")
    assert stamp(products.FAMILY, deleted).rank >= TERMINAL_WEIGHT
    assert stamp(products.FAMILY, deleted) > stamp(products.FAMILY, created)
    assert decide(products.FAMILY, created, stamp(products.FAMILY, deleted)) is None
    with pytest.raises(ViewError):
        parse_product({"object": "product"})


def test_price_rows() -> None:
    row = decide(prices.FAMILY, envelope("price.created", fp.price("price_1", "prod_1")))
    assert (row["id"], row["product_id"], row["nickname"], row["lookup_key"]) == (
        "price_1",
        "prod_1",
        "Pro monthly",
        "pro_monthly",
    )
    assert (row["unit_amount"], row["currency"], row["recurring_interval"]) == (
        2900,
        "eur",
        "month",
    )
    assert (row["active"], row["deleted"]) == (True, False)


def test_odd_prices_are_mirrored() -> None:
    obj = fp.price("price_1", "prod_1", unit_amount=None, interval=None, nickname=None)
    obj["product"] = {"id": "prod_2", "object": "product"}
    obj["currency"] = "EURO"
    view = parse_price(obj)
    assert (view.unit_amount, view.interval, view.nickname, view.product_id) == (
        None,
        None,
        None,
        "prod_2",
    )
    assert view.currency is None


def test_price_ties() -> None:
    created = envelope("price.created", fp.price("price_1", "prod_1"), event_id="evt_z")
    updated = envelope("price.updated", fp.price("price_1", "prod_1"), event_id="evt_a")
    deleted = envelope("price.deleted", fp.price("price_1", "prod_1"), event_id="evt_0")
    assert stamp(prices.FAMILY, created) < stamp(prices.FAMILY, updated)
    assert stamp(prices.FAMILY, updated) < stamp(prices.FAMILY, deleted)
    assert decide(prices.FAMILY, deleted)["deleted"] is True


def test_hostile_summaries_are_bounded() -> None:
    keys = [f"feature_{n:04d}" for n in range(entitlements.MAX_FEATURES + 50)]
    obj = fp.entitlement_summary("cus_1", *keys)
    obj["entitlements"]["data"].append({"lookup_key": 42, "feature": {"lookup_key": ["x"]}})
    view = parse_summary(obj)
    assert len(view.features) == entitlements.MAX_FEATURES
    assert view.features == tuple(sorted(keys))[: entitlements.MAX_FEATURES]


def test_an_unknown_price_interval_fits_its_column() -> None:
    obj = fp.price("price_1", "prod_1", interval="every_second_tuesday_of_the_month")
    row = decide(prices.FAMILY, envelope("price.updated", obj))
    assert len(row["recurring_interval"]) <= column_length(prices.PRICES.c.recurring_interval)
