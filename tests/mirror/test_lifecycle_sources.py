"""The sources group's lifecycle applied in creation order gives the mirror it describes
(test_ordering.py then checks every arrival order gives this same mirror)."""

from __future__ import annotations

import pytest

from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror.lifecycle_sources import CARD, CUS, MANDATE, PM, SETI, sources_lifecycle
from tests.mirror.support import apply, snapshot
from workers.runtime import Runtime


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_sources_lifecycle_in_order(runtime: Runtime, shape: ApiShape) -> None:
    apply(runtime, *sources_lifecycle(shape))
    snap = snapshot(runtime.engine)
    methods = {m["id"]: m for m in snap["payment_methods"]}
    # Deleted in the same second as a stale update; no longer the default either.
    assert (methods[CARD]["status"], methods[CARD]["is_default"]) == ("detached", False)
    assert methods[CARD]["stripe_customer_id"] == CUS
    assert methods[PM]["status"] == "attached"
    [mandate] = snap["mandates"]
    assert (mandate["id"], mandate["payment_method_id"], mandate["status"]) == (
        MANDATE,
        PM,
        "inactive",
    )
    [seti] = snap["setup_intents"]
    assert (seti["id"], seti["status"], seti["payment_method_id"], seti["error_code"]) == (
        SETI,
        "succeeded",
        PM,
        None,
    )
    assert sorted((n["kind"], n["object_id"]) for n in snap["notifications"]) == [
        ("card_expiring", CARD),
        ("setup_failed", SETI),
    ]
