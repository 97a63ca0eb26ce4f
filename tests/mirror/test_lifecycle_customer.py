"""The customer extras' lifecycle in creation order gives the mirror a product expects (the
permutation + duplicates test then proves every arrival order gives this same mirror)."""

from __future__ import annotations

import pytest

from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror.lifecycle import LIFECYCLES
from tests.mirror.lifecycle_customer import COUPON, CUS, DI, DI_SUB, PROMO, TXI_A, TXI_B
from tests.mirror.support import apply, rows
from workers.runtime import Runtime


def test_the_lifecycle_is_registered() -> None:
    assert "customer" in LIFECYCLES


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_lifecycle_in_order_gives_the_expected_mirror(runtime: Runtime, shape: ApiShape) -> None:
    apply(runtime, *LIFECYCLES["customer"](shape))
    engine = runtime.engine
    assert rows(engine, "SELECT id, verification_status, deleted FROM tax_ids ORDER BY id") == [
        {"id": TXI_A, "verification_status": "verified", "deleted": False},
        {"id": TXI_B, "verification_status": "unverified", "deleted": True},
    ]
    assert rows(engine, "SELECT kind, object_id FROM notifications") == [
        {"kind": "vat_verification_failed", "object_id": TXI_B}
    ]
    assert rows(engine, "SELECT id, name FROM coupons") == [{"id": COUPON, "name": "Launch deal"}]
    assert rows(engine, "SELECT id, active FROM promotion_codes") == [
        {"id": PROMO, "active": False}
    ]
    found = rows(engine, "SELECT id, subscription_id, deleted FROM discounts ORDER BY id")
    assert found == [
        {"id": DI, "subscription_id": None, "deleted": True},
        {"id": DI_SUB, "subscription_id": "sub_xlife", "deleted": False},
    ]
    assert CUS in {r["stripe_customer_id"] for r in rows(engine, "SELECT * FROM discounts")}
