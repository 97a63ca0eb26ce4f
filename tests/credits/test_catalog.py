"""The plan catalog's credits and pay-as-you-go fields: parsed and validated."""

from __future__ import annotations

from typing import Any

import pytest

from domain.plans import CatalogError, load_catalog, parse_catalog


def doc(**top: Any) -> dict[str, Any]:
    plan = {"tier": "pro", "interval": "month", "price_id": "price_p", "amount": 2900}
    plan |= {"currency": "eur", **top.pop("plan", {})}
    return {"plans": [plan], **top}


def test_the_bundled_catalog_has_credits_and_a_metered_price() -> None:
    catalog = load_catalog()
    assert catalog.credits_for("price_pro_month") == 4000
    assert catalog.credits_for("price_unknown") == 0
    assert catalog.credits_for(None) == 0
    assert (catalog.payg_price_id, catalog.meter) == ("price_payg_credits", "api_credits")


def test_credits_and_payg_are_optional() -> None:
    catalog = parse_catalog(doc())
    assert catalog.plans[0].credits_per_period == 0
    assert (catalog.payg_price_id, catalog.meter) == (None, None)


@pytest.mark.parametrize("bad", [-1, 1.5, "100", True])
def test_credits_must_be_a_non_negative_integer(bad: Any) -> None:
    with pytest.raises(CatalogError, match=r"plans\[0\]: credits_per_period must be"):
        parse_catalog(doc(plan={"credits_per_period": bad}))


@pytest.mark.parametrize(
    ("top", "message"),
    [
        ({"payg_price_id": "price_m"}, "give both or neither"),
        ({"meter": "api_credits"}, "give both or neither"),
        ({"payg_price_id": "", "meter": "m"}, "payg_price_id must be a Stripe price id"),
        ({"payg_price_id": 5, "meter": "m"}, "payg_price_id must be a Stripe price id"),
        ({"payg_price_id": "price_p", "meter": "m"}, "is also a plan's price_id"),
        ({"payg_price_id": "price_m", "meter": ""}, "meter must be the meter's event_name"),
        ({"payg_price_id": "price_m", "meter": "x" * 101}, "meter must be"),
    ],
)
def test_payg_fields_are_checked(top: dict[str, Any], message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_catalog(doc(**top), "plans.toml")
