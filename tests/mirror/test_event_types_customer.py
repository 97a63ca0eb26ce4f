"""Every event type of the customer extras (tax ids, coupons, promotion codes, discounts),
in both API shapes, through the real processor: each ends processed and writes its row."""

from __future__ import annotations

from typing import Any

import pytest

from domain.mirror.families import REGISTRY
from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror import factory_customer as fc
from tests.mirror.support import apply, one, rows
from workers.runtime import Runtime

T0 = 1_700_000_000
CUS = "cus_extras"
TAX_ID_TYPES = ("customer.tax_id.created", "customer.tax_id.updated", "customer.tax_id.deleted")
COUPON_TYPES = ("coupon.created", "coupon.updated", "coupon.deleted")
PROMOTION_CODE_TYPES = ("promotion_code.created", "promotion_code.updated")
DISCOUNT_TYPES = (
    "customer.discount.created",
    "customer.discount.updated",
    "customer.discount.deleted",
)


def kinds(rt: Runtime) -> list[dict[str, Any]]:
    return rows(rt.engine, "SELECT kind, object_id, payload FROM notifications ORDER BY id")


def event_status(rt: Runtime, event_id: str) -> str:
    found = one(rt.engine, "SELECT status FROM stripe_events WHERE event_id = :e", e=event_id)
    return str(found["status"])


def test_the_types_are_registered() -> None:
    types = {*TAX_ID_TYPES, *COUPON_TYPES, *PROMOTION_CODE_TYPES, *DISCOUNT_TYPES}
    assert types <= set(REGISTRY)


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", TAX_ID_TYPES)
def test_tax_id_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    status = "pending" if event_type.endswith("created") else "verified"
    name = None if status == "pending" else "JANSEN B.V."
    obj = fc.tax_id("txi_types", CUS, shape=shape, status=status, verified_name=name)
    event = f.event(event_type, obj, T0 + 5, shape=shape, event_id=f"evt_{shape}_{event_type}")
    apply(runtime, event)

    assert event_status(runtime, event["id"]) == "processed"
    row = one(runtime.engine, "SELECT * FROM tax_ids WHERE id = 'txi_types'")
    assert (row["stripe_customer_id"], row["type"], row["value"], row["country"]) == (
        CUS,
        "eu_vat",
        "NL123456789B01",
        "NL",
    )
    assert (row["verification_status"], row["verified_name"]) == (status, name)
    assert row["deleted"] == event_type.endswith("deleted")
    assert row["last_event_created"] == T0 + 5
    assert kinds(runtime) == []


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_a_failed_vat_verification_is_notified(runtime: Runtime, shape: ApiShape) -> None:
    name = "JANSEN B.V."
    created = fc.tax_id("txi_fail", CUS, shape=shape)
    failed = fc.tax_id("txi_fail", CUS, shape=shape, status="unverified", verified_name=name)
    apply(
        runtime,
        f.event("customer.tax_id.created", created, T0, shape=shape, event_id="evt_c"),
        f.event(
            "customer.tax_id.updated",
            failed,
            T0 + 60,
            shape=shape,
            event_id="evt_u",
            previous={"verification": {"status": "pending"}},
        ),
    )
    (notice,) = kinds(runtime)
    assert (notice["kind"], notice["object_id"]) == ("vat_verification_failed", "txi_fail")
    assert notice["payload"] == {
        "tax_id": "txi_fail",
        "type": "eu_vat",
        "country": "NL",
        "customer_id": CUS,
    }
    assert name not in str(notice)


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", COUPON_TYPES)
def test_coupon_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    obj = fc.coupon("co_types", percent_off=None, amount_off=500, currency="eur")
    if event_type.endswith("deleted"):
        obj["deleted"] = True
    event = f.event(event_type, obj, T0 + 5, shape=shape, event_id=f"evt_{shape}_{event_type}")
    apply(runtime, event)

    assert event_status(runtime, event["id"]) == "processed"
    row = one(runtime.engine, "SELECT * FROM coupons WHERE id = 'co_types'")
    assert (row["name"], row["amount_off"], row["currency"], row["percent_off"]) == (
        "Launch 20%",
        500,
        "eur",
        None,
    )
    assert (row["duration"], row["duration_in_months"], row["valid"]) == ("repeating", 3, True)
    assert row["deleted"] == event_type.endswith("deleted")
    assert kinds(runtime) == []


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", PROMOTION_CODE_TYPES)
def test_promotion_code_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    active = event_type.endswith("created")
    obj = fc.promotion_code("promo_types", "co_types", shape=shape, active=active)
    event = f.event(event_type, obj, T0 + 5, shape=shape, event_id=f"evt_{shape}_{event_type}")
    apply(runtime, event)

    assert event_status(runtime, event["id"]) == "processed"
    row = one(runtime.engine, "SELECT * FROM promotion_codes WHERE id = 'promo_types'")
    assert (row["code"], row["coupon_id"], row["active"]) == ("LAUNCH20", "co_types", active)


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", DISCOUNT_TYPES)
def test_discount_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    obj = fc.discount(
        "di_types", CUS, "co_types", shape=shape, subscription="sub_types", promotion_code="promo_x"
    )
    event = f.event(event_type, obj, T0 + 5, shape=shape, event_id=f"evt_{shape}_{event_type}")
    apply(runtime, event)

    assert event_status(runtime, event["id"]) == "processed"
    row = one(runtime.engine, "SELECT * FROM discounts WHERE id = 'di_types'")
    assert (row["stripe_customer_id"], row["coupon_id"], row["subscription_id"]) == (
        CUS,
        "co_types",
        "sub_types",
    )
    assert (row["promotion_code_id"], row["deleted"]) == ("promo_x", event_type.endswith("deleted"))
    assert kinds(runtime) == []


def test_a_discount_from_before_discount_ids_is_created_and_deleted(runtime: Runtime) -> None:
    legacy = ApiShape.LEGACY
    obj = fc.discount(None, CUS, "co_old", shape=legacy)
    apply(
        runtime,
        f.event("customer.discount.created", obj, T0, shape=legacy, event_id="evt_old_c"),
        f.event("customer.discount.deleted", obj, T0 + 9, shape=legacy, event_id="evt_old_d"),
    )
    row = one(runtime.engine, "SELECT id, deleted FROM discounts")
    assert row == {"id": f"{CUS}:customer", "deleted": True}


def test_hostile_values_are_stored_as_sent_and_never_notified(runtime: Runtime) -> None:
    name = "<script>alert(1)</script> \u202e B.V. " * 40  # long, markup, bidi override
    address = "Damrak 1\n\u0000?\n" * 100
    failed = fc.tax_id(
        "txi_hostile",
        CUS,
        status="unverified",
        verified_name=name,
        verified_address=address.replace("\u0000", ""),
        country="xx",
    )
    event = f.event(
        "customer.tax_id.updated",
        failed,
        T0,
        event_id="evt_hostile",
        previous={"verification": {"status": "pending"}},
    )
    apply(runtime, event)
    row = one(runtime.engine, "SELECT * FROM tax_ids WHERE id = 'txi_hostile'")
    assert row["verified_name"] == name and row["country"] == "XX"
    (notice,) = kinds(runtime)
    assert notice["payload"] == {
        "tax_id": "txi_hostile",
        "type": "eu_vat",
        "country": "XX",
        "customer_id": CUS,
    }
