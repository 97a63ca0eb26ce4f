"""Coupons, promotion codes and discounts: parse (both shapes), rank, rows, the choice of
the active discount. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from domain.mirror.families.discounts import coupons, discounts, promotion_codes
from domain.mirror.families.discounts.coupons import parse_coupon
from domain.mirror.families.discounts.discounts import is_active, newest, parse_discount
from domain.mirror.families.discounts.promotion_codes import parse_promotion_code
from domain.mirror.ordering import TERMINAL_WEIGHT
from domain.mirror.stripe_json import ApiShape, ViewError
from tests.families.support import T, decide, envelope, stamp
from tests.mirror import factory as f
from tests.mirror import factory_customer as fc


def at(seconds: int | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


# --- coupons -------------------------------------------------------------------------


def test_the_stripe_example_coupon_parses() -> None:
    view = parse_coupon(f.example_object("coupon"))
    assert (view.id, view.name, view.percent_off, view.amount_off) == (
        "Z4OV52SU",
        "25.5% off",
        25.5,
        None,
    )
    assert (view.duration, view.duration_in_months, view.valid) == ("forever", 3, True)


def test_an_amount_off_coupon_keeps_minor_units_and_its_currency() -> None:
    obj = fc.coupon("co_10", percent_off=None, amount_off=1000, currency="EUR", duration="once")
    view = parse_coupon(obj)
    assert (view.amount_off, view.currency, view.percent_off) == (1000, "eur", None)
    assert (view.duration, view.duration_in_months) == ("once", None)


def test_odd_coupons_are_kept_not_refused() -> None:
    obj = fc.coupon("co_odd")
    view = parse_coupon({**obj, "duration": "lifetime", "percent_off": "20", "valid": None})
    assert (view.duration, view.percent_off, view.valid) == ("lifetime", None, None)
    assert parse_coupon({**obj, "percent_off": 250}).percent_off is None
    assert parse_coupon({**obj, "percent_off": True}).percent_off is None
    with pytest.raises(ViewError, match="id"):
        parse_coupon({**obj, "id": ""})


def test_a_deleted_coupon_is_terminal_and_keeps_its_terms() -> None:
    obj = fc.coupon("co_1")
    deleted = envelope(coupons.DELETED, {**obj, "deleted": True}, event_id="evt_a")
    updated = envelope(coupons.UPDATED, {**obj, "name": "Renamed"}, event_id="evt_z")
    assert stamp(coupons.FAMILY, deleted).rank >= TERMINAL_WEIGHT
    assert stamp(coupons.FAMILY, deleted) > stamp(coupons.FAMILY, updated)
    created = envelope(coupons.CREATED, obj, event_id="evt_z")
    assert stamp(coupons.FAMILY, updated) > stamp(coupons.FAMILY, created)
    row = decide(coupons.FAMILY, deleted)
    assert row["deleted"] is True and row["percent_off"] == 20.0
    assert row["duration_in_months"] == 3


# --- promotion codes -----------------------------------------------------------------


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_both_shapes_name_the_coupon_of_a_promotion_code(shape: ApiShape) -> None:
    obj = fc.promotion_code("promo_1", "co_1", shape=shape)
    view = parse_promotion_code(obj, f.api_version(shape))
    assert (view.shape, view.coupon_id, view.code, view.active) == (shape, "co_1", "LAUNCH20", True)


def test_the_stripe_example_promotion_code_parses() -> None:
    view = parse_promotion_code(f.example_object("promotion_code"))
    assert (view.code, view.active, view.coupon_id) == ("FALL20", False, None)


def test_a_promotion_code_is_never_terminal_and_updates_win_ties() -> None:
    fam = promotion_codes.FAMILY
    created = envelope(promotion_codes.CREATED, fc.promotion_code("promo_1", "co_1"), event_id="b")
    off = fc.promotion_code("promo_1", "co_1", active=False)
    updated = envelope(promotion_codes.UPDATED, off, event_id="a")
    assert stamp(fam, updated) > stamp(fam, created)
    assert stamp(fam, updated).rank < TERMINAL_WEIGHT
    assert decide(fam, updated)["active"] is False


# --- discounts -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_both_shapes_name_the_coupon_of_a_discount(shape: ApiShape) -> None:
    obj = fc.discount("di_1", "cus_1", "co_1", shape=shape, subscription="sub_1", end=T + 99)
    view = parse_discount(obj, f.api_version(shape))
    assert (view.shape, view.id, view.customer_id, view.coupon_id) == (
        shape,
        "di_1",
        "cus_1",
        "co_1",
    )
    assert (view.subscription_id, view.start, view.end) == ("sub_1", at(1_700_000_000), at(T + 99))


def test_a_basil_discount_still_carries_its_coupon() -> None:
    obj = fc.discount("di_1", "cus_1", "co_1", shape=ApiShape.LEGACY)
    view = parse_discount(obj, f.api_version(ApiShape.CURRENT))  # 2025-03-31: still `coupon`
    assert (view.shape, view.coupon_id) == (ApiShape.CURRENT, "co_1")


def test_the_stripe_example_discount_parses() -> None:
    view = parse_discount(f.example_object("discount"))
    assert (view.id, view.customer_id, view.coupon_id) == (
        "di_1Pgc6rB7WZ01zgkW7Al8Fal9",
        "cus_QXg1o8vcGmoR32",
        None,
    )


def test_a_discount_without_an_id_is_keyed_by_what_it_discounts() -> None:
    legacy = ApiShape.LEGACY
    customer_wide = fc.discount(None, "cus_1", "co_1", shape=legacy)
    on_subscription = fc.discount(None, "cus_1", "co_1", shape=legacy, subscription="sub_1")
    assert parse_discount(customer_wide).id == "cus_1:customer"
    assert parse_discount(on_subscription).id == "cus_1:sub_1"
    with pytest.raises(ViewError, match="id or a customer"):
        parse_discount({**customer_wide, "customer": None})


def test_a_deleted_discount_is_terminal_and_kept_flagged() -> None:
    fam = discounts.FAMILY
    obj = fc.discount("di_1", "cus_1", "co_1")
    deleted = envelope(discounts.DELETED, obj, event_id="evt_a")
    updated = envelope(discounts.UPDATED, obj, event_id="evt_z")
    created = envelope(discounts.CREATED, obj, event_id="evt_z")
    assert stamp(fam, deleted).rank >= TERMINAL_WEIGHT
    assert stamp(fam, deleted) > stamp(fam, updated) > stamp(fam, created)
    assert decide(fam, deleted)["deleted"] is True
    row = decide(fam, created)
    assert (row["deleted"], row["coupon_id"], row["stripe_customer_id"]) == (False, "co_1", "cus_1")
    assert decide(fam, created, current=stamp(fam, deleted)) is None


def row(di: str, start: int | None, end: int | None = None, deleted: bool = False) -> Any:
    return SimpleNamespace(id=di, starts_at=at(start), ends_at=at(end), deleted=deleted)


def test_the_active_discount_is_live_and_the_newest() -> None:
    now = at(T)
    assert now is not None
    assert is_active(row("di_forever", T - 9), now)
    assert is_active(row("di_ends_later", T - 9, T + 1), now)
    assert not is_active(row("di_ended", T - 9, T), now)
    assert not is_active(row("di_deleted", T - 9, deleted=True), now)
    assert newest([]) is None
    stacked = [row("di_a", T - 5), row("di_b", T - 1), row("di_c", None)]
    chosen = newest(stacked)
    assert chosen is not None and chosen.id == "di_b"
