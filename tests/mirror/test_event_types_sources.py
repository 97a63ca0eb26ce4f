"""Every event type of the sources group, in both API shapes, through the real processor."""

from __future__ import annotations

from typing import Any

import pytest

from domain.mirror.families import REGISTRY
from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror import factory_sources as fs
from tests.mirror.support import apply, one, rows
from workers.runtime import Runtime

T0 = 1_700_000_000
CUS = "cus_src_types"
SOURCE_TYPES = {f"customer.source.{t}" for t in ("created", "updated", "expiring", "deleted")}
TYPES = SOURCE_TYPES | {"mandate.updated", "setup_intent.succeeded", "setup_intent.setup_failed"}


def notifications(rt: Runtime) -> list[dict[str, Any]]:
    return rows(
        rt.engine,
        "SELECT kind, object_type, object_id, stripe_customer_id, payload FROM notifications",
    )


def test_the_groups_types_are_registered() -> None:
    assert set(REGISTRY) >= TYPES


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", sorted(SOURCE_TYPES))
def test_card_source_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    obj = fs.card("card_types", CUS, exp_month=12, exp_year=2026, shape=shape)
    apply(runtime, f.event(event_type, obj, T0, shape=shape))

    row = one(runtime.engine, "SELECT * FROM payment_methods WHERE id = 'card_types'")
    deleted = event_type == "customer.source.deleted"
    assert (row["status"], row["type"], row["source"], row["stripe_customer_id"]) == (
        "detached" if deleted else "attached",
        "card",
        True,
        CUS,
    )
    assert (row["card_brand"], row["card_last4"], row["card_exp_month"]) == ("visa", "4242", 12)
    assert "name" not in row["raw"]
    found = notifications(runtime)
    if event_type == "customer.source.expiring":
        assert found == [
            {
                "kind": "card_expiring",
                "object_type": "source",
                "object_id": "card_types",
                "stripe_customer_id": CUS,
                "payload": {
                    "source_id": "card_types",
                    "exp_month": 12,
                    "exp_year": 2026,
                    "customer_id": CUS,
                },
            }
        ]
    else:
        assert found == []


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("kind", ["card", "sepa_debit"])
def test_source_objects(runtime: Runtime, kind: str, shape: ApiShape) -> None:
    obj = fs.source("src_types", CUS, kind=kind)
    apply(runtime, f.event("customer.source.created", obj, T0, shape=shape))
    row = one(runtime.engine, "SELECT * FROM payment_methods WHERE id = 'src_types'")
    assert (row["type"], row["source"], row["status"]) == (kind, True, "attached")
    details = (row["card_last4"], row["bank_last4"])
    assert details == (("4444", None) if kind == "card" else (None, "3000"))
    assert "owner" not in row["raw"]


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_mandate_updated(runtime: Runtime, shape: ApiShape) -> None:
    obj = fs.mandate("mandate_types", "pm_sepa_types", "active", shape=shape)
    apply(runtime, f.event("mandate.updated", obj, T0, shape=shape))
    row = one(runtime.engine, "SELECT * FROM mandates")
    assert (row["id"], row["payment_method_id"], row["status"], row["type"]) == (
        "mandate_types",
        "pm_sepa_types",
        "active",
        "multi_use",
    )
    assert (row["method_type"], row["reference"]) == ("sepa_debit", "REF-1")
    assert notifications(runtime) == []


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", ["setup_intent.succeeded", "setup_intent.setup_failed"])
def test_setup_intent_events(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    failed = event_type == "setup_intent.setup_failed"
    obj = fs.setup_intent(
        "seti_types",
        CUS,
        "requires_payment_method" if failed else "succeeded",
        payment_method="pm_types",
        error="card_declined" if failed else None,
        decline_code="do_not_honor" if failed else None,
        shape=shape,
    )
    apply(runtime, f.event(event_type, obj, T0, shape=shape))
    row = one(runtime.engine, "SELECT * FROM setup_intents")
    assert (row["id"], row["stripe_customer_id"], row["payment_method_id"]) == (
        "seti_types",
        CUS,
        "pm_types",
    )
    assert row["status"] == ("requires_payment_method" if failed else "succeeded")
    assert (row["error_code"], row["error_decline_code"]) == (
        ("card_declined", "do_not_honor") if failed else (None, None)
    )
    found = notifications(runtime)
    if failed:
        assert [(n["kind"], n["object_type"], n["object_id"]) for n in found] == [
            ("setup_failed", "setup_intent", "seti_types")
        ]
        assert found[0]["payload"] == {
            "setup_intent_id": "seti_types",
            "payment_method_id": "pm_types",
            "error_code": "card_declined",
            "decline_code": "do_not_honor",
            "customer_id": CUS,
        }
    else:
        assert found == []
