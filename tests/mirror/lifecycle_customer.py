"""The customer extras' lifecycle as Stripe events (fixed ids and seconds), for the
permutation + duplicates ordering test (LIFECYCLES["customer"] in tests/mirror/lifecycle.py).

Tax ids: one created (pending) and verified in the same second, another created in that
second too, found unverified later and deleted in the very second of that update.
Discounts: the discount arrives in the second of its coupon and promotion code, the coupon
is renamed, the discount updated, another one put on a subscription, and the customer's
discount deleted in the second of an update of it.
"""

from __future__ import annotations

from typing import Any

from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror import factory_customer as fc

T0 = 1_712_000_000
ACCT, CUS = "acct_extras", "cus_extras_life"
TXI_A, TXI_B = "txi_life_a", "txi_life_b"
COUPON, PROMO, DI, DI_SUB, SUB = "co_life", "promo_life", "di_life", "di_life_sub", "sub_xlife"


def customer_lifecycle(shape: ApiShape, prefix: str = "evt_cx") -> list[dict[str, Any]]:
    """The events in the order Stripe created them."""
    n = iter(range(100))

    def ev(event_type: str, obj: dict[str, Any], at: int, **kw: Any) -> dict[str, Any]:
        return f.event(event_type, obj, at, shape=shape, event_id=f"{prefix}_{next(n):02d}", **kw)

    def txi(txi_id: str, status: str, **kw: Any) -> dict[str, Any]:
        return fc.tax_id(txi_id, CUS, shape=shape, status=status, created=T0 + 1, **kw)

    def coupon(**kw: Any) -> dict[str, Any]:
        return fc.coupon(COUPON, created=T0 + 100, **kw)

    def di(di_id: str, **kw: Any) -> dict[str, Any]:
        return fc.discount(di_id, CUS, COUPON, shape=shape, start=T0 + 100, **kw)

    verified = {"verified_name": "JANSEN B.V.", "verified_address": "DAMRAK 1\nAMSTERDAM"}
    pending = {"verification": {"status": "pending"}}
    return [
        ev("customer.created", f.customer(CUS, account_ref=ACCT), T0),
        # Same second: created, verified, and a second id created.
        ev("customer.tax_id.created", txi(TXI_A, "pending"), T0 + 1),
        ev("customer.tax_id.created", txi(TXI_B, "pending", value="NL000099998B57"), T0 + 1),
        ev("customer.tax_id.updated", txi(TXI_A, "verified", **verified), T0 + 1, previous=pending),
        # Found unverified, and deleted in that same second: deleted stays.
        ev("customer.tax_id.updated", txi(TXI_B, "unverified"), T0 + 60, previous=pending),
        ev("customer.tax_id.deleted", txi(TXI_B, "unverified"), T0 + 60),
        # Same second: coupon, its code, and the discount redeemed with it.
        ev("coupon.created", coupon(), T0 + 100),
        ev("promotion_code.created", fc.promotion_code(PROMO, COUPON, shape=shape), T0 + 100),
        ev("customer.discount.created", di(DI, promotion_code=PROMO), T0 + 100),
        ev("coupon.updated", coupon(name="Launch deal"), T0 + 100, previous={"name": "Launch"}),
        ev("customer.discount.updated", di(DI, promotion_code=PROMO, end=T0 + 9_999), T0 + 200),
        ev("customer.discount.created", di(DI_SUB, subscription=SUB), T0 + 300),
        ev(
            "promotion_code.updated",
            fc.promotion_code(PROMO, COUPON, shape=shape, active=False),
            T0 + 300,
        ),
        # Same second: an update of the discount and its removal; removed stays.
        ev("customer.discount.updated", di(DI, end=T0 + 8_888), T0 + 400),
        ev("customer.discount.deleted", di(DI, promotion_code=PROMO), T0 + 400),
    ]
