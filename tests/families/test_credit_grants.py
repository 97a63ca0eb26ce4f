"""The credit grants family's pure core: parse (both shapes), rank, the row, metadata credits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.credits.grants import grant_credits
from domain.mirror.families import credit_grants
from domain.mirror.families.credit_grants import CreditGrantStatus, parse_credit_grant
from domain.mirror.ordering import TERMINAL_WEIGHT
from domain.mirror.stripe_json import ApiShape, ViewError
from domain.samples import example_object
from tests.families.support import decide, envelope, stamp
from tests.mirror import factory as f
from tests.mirror import factory_credit_grants as fg

FAMILY = credit_grants.FAMILY
CREATED, UPDATED = credit_grants.CREATED, credit_grants.UPDATED


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_a_grant_parses_in_both_shapes(shape: ApiShape) -> None:
    obj = fg.credit_grant(
        "credgr_1", "cus_1", value=2500, credits=300, expires_at=1_800_000_000, shape=shape
    )
    view = parse_credit_grant(obj, f.api_version(shape))
    assert (view.id, view.customer_id, view.amount, view.currency) == (
        "credgr_1",
        "cus_1",
        2500,
        "eur",
    )
    assert (view.amount_type, view.category, view.price_type) == (
        "monetary",
        "promotional",
        "metered",
    )
    assert view.priority == (None if shape is ApiShape.LEGACY else 50)
    assert view.expires_at == datetime.fromtimestamp(1_800_000_000, UTC)
    assert (view.credits, view.status) == (300, CreditGrantStatus.ACTIVE)


def test_the_fixture_grant_and_odd_ones() -> None:
    view = parse_credit_grant(example_object("billing.credit_grant"))
    assert (view.id, view.customer_id, view.amount, view.price_type) == (
        "obj_123",
        "obj_123",
        111972721,
        "metered",
    )
    assert view.credits is None  # no metadata.credits: mirrored only
    with pytest.raises(ViewError):
        parse_credit_grant({"amount": {}})
    odd = parse_credit_grant(
        {
            "id": "credgr_x",
            "amount": {"type": "custom_pricing_unit", "custom_pricing_unit": {"value": "12.5"}},
            "applicability_config": {"scope": {"prices": [{"id": "price_a"}, "price_b", 3]}},
        }
    )
    assert (odd.amount_type, odd.amount, odd.currency, odd.price_type) == (
        "custom_pricing_unit",
        None,
        None,
        None,
    )
    assert odd.price_ids == ("price_a", "price_b")


@pytest.mark.parametrize(
    ("metadata", "credits"),
    [
        ({"credits": "500"}, 500),
        ({"credits": 7}, 7),
        ({"credits": " 12 "}, 12),
        ({"credits": "0"}, None),
        ({"credits": "-5"}, None),
        ({"credits": "1.5"}, None),
        ({"credits": "lots"}, None),
        ({"credits": True}, None),
        ({"credits": str(10**13)}, None),
        ({}, None),
        (None, None),
    ],
)
def test_metadata_credits_count_only_as_a_positive_integer(metadata: object, credits: int) -> None:
    assert grant_credits(metadata) == credits


def test_voided_is_terminal_and_an_update_outranks_the_creation() -> None:
    active = fg.credit_grant("credgr_1", "cus_1")
    voided = fg.credit_grant("credgr_1", "cus_1", voided_at=1_700_000_100)
    created = stamp(FAMILY, envelope(CREATED, active))
    updated = stamp(FAMILY, envelope(UPDATED, active))
    void = stamp(FAMILY, envelope(UPDATED, voided))
    assert created.rank < updated.rank < void.rank
    assert void.rank >= TERMINAL_WEIGHT
    # A stale same-second update after the void is not written.
    assert decide(FAMILY, envelope(UPDATED, active), current=void) is None


def test_the_row() -> None:
    obj = fg.credit_grant("credgr_1", "cus_1", credits="40", voided_at=1_700_000_100)
    row = decide(FAMILY, envelope(UPDATED, obj))
    assert row["status"] == "voided" and row["credits"] == 40
    assert row["voided_at"] == datetime.fromtimestamp(1_700_000_100, UTC)
    assert (row["stripe_customer_id"], row["amount"], row["price_ids"]) == ("cus_1", 5000, [])
    assert row["raw"]["id"] == "credgr_1"
