"""Thin events through process_events on real Postgres, fetching from the fake Stripe."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY as METRICS
from sqlalchemy import Engine, text, update

from domain import event_log
from domain.envelope import EventEnvelope, parse_envelope
from domain.event_log import NewEvent
from domain.mirror.unit import Unit
from domain.models import EventStatus, StripeEvent
from domain.samples import build_event, new_id
from domain.thin import THIN_REGISTRY, Fetch, ThinRegistration
from domain.thin.meter_errors import ERROR_REPORT_TRIGGERED, NO_METER_FOUND
from domain.types import utcnow
from tests.support.db import count, effects, event_row
from tests.support.fake_stripe import FakeStripe
from tests.support.fake_stripe_thin import thin_body
from tests.support.handlers import TEST_REGISTRY
from workers.processor import process_events
from workers.runtime import Runtime
from workers.stripe_gateway import StripeGateway


def store_raw(rt: Runtime, raw: bytes) -> str:
    envelope = parse_envelope(raw)
    with rt.engine.begin() as conn:
        event_log.insert_events(conn, [NewEvent(envelope, raw.decode())], utcnow())
    return envelope.event_id


def store_thin(rt: Runtime, event: dict[str, Any]) -> str:
    return store_raw(rt, thin_body(event))


def set_row(engine: Engine, event_id: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(StripeEvent).where(StripeEvent.event_id == event_id).values(**values))


def notifications(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM notifications ORDER BY id")).mappings().all()
    return [dict(r) for r in rows]


def codes_metric(event_type: str, code: str) -> float:
    labels = {"type": event_type, "code": code}
    return METRICS.get_sample_value("billing_thin_event_codes_total", labels) or 0.0


def test_meter_error_is_fetched_and_notified_once_even_when_replayed(
    runtime: Runtime, db: Engine, fake_stripe: FakeStripe, gateway: StripeGateway
) -> None:
    event = fake_stripe.thin.meter_error(
        "mtr_1", {"meter_event_no_customer_defined": 3, "timestamp_too_far_in_past": 2}
    )
    event_id = store_thin(runtime, event)
    before = codes_metric(ERROR_REPORT_TRIGGERED, "meter_event_no_customer_defined")
    outcome = process_events(runtime, [event_id], gateway=lambda: gateway)
    assert outcome.processed == [event_id]
    assert fake_stripe.calls("GET", f"/v2/core/events/{event_id}") == 1
    [note] = notifications(db)
    assert note["kind"] == "usage_report_failed" and note["event_id"] == event_id
    assert (note["object_type"], note["object_id"]) == ("billing.meter", "mtr_1")
    assert note["account_ref"] is None and note["stripe_customer_id"] is None
    payload = note["payload"]
    assert payload["meter"] == "mtr_1" and payload["error_count"] == 5
    assert payload["errors"] == [
        {"code": "meter_event_no_customer_defined", "count": 3},
        {"code": "timestamp_too_far_in_past", "count": 2},
    ]
    assert payload["window"]["start"] and payload["window"]["end"]
    assert "sample_errors" not in orjson.dumps(payload).decode()
    after = codes_metric(ERROR_REPORT_TRIGGERED, "meter_event_no_customer_defined")
    assert after - before == 3

    set_row(db, event_id, status=EventStatus.RECEIVED, lease_token=None)  # replayed
    assert process_events(runtime, [event_id], gateway=lambda: gateway).processed == [event_id]
    assert fake_stripe.calls("GET", f"/v2/core/events/{event_id}") == 2
    assert len(notifications(db)) == 1


def test_no_meter_found_is_notified_without_a_meter(
    runtime: Runtime, db: Engine, fake_stripe: FakeStripe, gateway: StripeGateway
) -> None:
    event = fake_stripe.thin.meter_error(None, {"no_meter": 4}, NO_METER_FOUND)
    event_id = store_thin(runtime, event)
    assert process_events(runtime, [event_id], gateway=lambda: gateway).processed == [event_id]
    [note] = notifications(db)
    assert note["object_id"] is None and note["payload"]["meter"] is None
    assert note["payload"]["event_type"] == NO_METER_FOUND


def test_transient_fetch_failure_is_retried_then_processed(
    runtime: Runtime, db: Engine, fake_stripe: FakeStripe, gateway: StripeGateway
) -> None:
    event_id = store_thin(runtime, fake_stripe.thin.meter_error("mtr_1", {"a_code": 1}))
    fake_stripe.fail_next("500", on="GET /v2/core/events/")
    assert process_events(runtime, [event_id], gateway=lambda: gateway).failed == [event_id]
    row = event_row(db, event_id)
    assert row is not None and row["status"] == "retrying" and row["attempts"] == 1
    assert notifications(db) == []
    set_row(db, event_id, next_attempt_at=utcnow())
    assert process_events(runtime, [event_id], gateway=lambda: gateway).processed == [event_id]
    assert len(notifications(db)) == 1


def test_fetch_that_keeps_failing_goes_dead_with_the_reason(
    runtime: Runtime, db: Engine, fake_stripe: FakeStripe, gateway: StripeGateway
) -> None:
    event = fake_stripe.thin.meter_error("mtr_1", {"a_code": 1})
    event_id = store_thin(runtime, {**event, "id": "evt_test_never_stored_at_stripe"})
    policy = runtime.retry_policy
    for attempt in range(1, policy.max_attempts):
        assert process_events(runtime, [event_id], gateway=lambda: gateway).failed == [event_id]
        row = event_row(db, event_id)
        assert row is not None and row["status"] == "retrying" and row["attempts"] == attempt
        set_row(db, event_id, next_attempt_at=utcnow())
    process_events(runtime, [event_id], gateway=lambda: gateway)
    row = event_row(db, event_id)
    assert row is not None and row["status"] == "dead"
    with db.connect() as conn:
        dead = conn.execute(text("SELECT * FROM dead_letters")).mappings().one()
    assert dead["event_id"] == event_id and dead["error_type"] == "StripeFailure"
    assert "resource_missing" in dead["error_message"]
    assert notifications(db) == []


def test_unknown_thin_type_is_ignored_without_a_fetch(
    runtime: Runtime, db: Engine, fake_stripe: FakeStripe
) -> None:
    event = fake_stripe.thin.create("v2.core.account.created", None, None)
    event_id = store_thin(runtime, event)

    def no_gateway() -> StripeGateway:
        raise AssertionError("an unhandled thin type must not reach Stripe")

    assert process_events(runtime, [event_id], gateway=no_gateway).ignored == [event_id]
    assert event_row(db, event_id)["status"] == "ignored"  # type: ignore[index]
    assert fake_stripe.calls("GET", "/v2/") == 0


def test_a_handler_can_fetch_the_related_object_instead(
    runtime: Runtime, db: Engine, fake_stripe: FakeStripe, gateway: StripeGateway
) -> None:
    customer = gateway.create_customer({"email": "thin@example.com"}, key=new_id("key"))
    seen: list[dict[str, Any]] = []

    def record(unit: Unit, envelope: EventEnvelope, fetched: dict[str, Any]) -> dict[str, int]:
        seen.append(fetched)
        return {}

    registry = {"v2.test.customer_touched": ThinRegistration(record, Fetch.RELATED_OBJECT)}
    related = {"id": customer["id"], "type": "customer", "url": f"/v1/customers/{customer['id']}"}
    event = fake_stripe.thin.create("v2.test.customer_touched", None, related)
    event_id = store_thin(runtime, event)
    outcome = process_events(runtime, [event_id], thin_registry=registry, gateway=lambda: gateway)
    assert outcome.processed == [event_id]
    assert [s["id"] for s in seen] == [customer["id"]]
    assert fake_stripe.calls("GET", f"/v1/customers/{customer['id']}") == 1


def test_thin_and_snapshot_events_in_one_message(
    runtime: Runtime, db: Engine, fake_stripe: FakeStripe, gateway: StripeGateway
) -> None:
    snapshot = [
        store_raw(
            runtime,
            orjson.dumps(
                build_event("test.recorded", {"id": new_id("obj")}, event_id=new_id("evt"))
            ),
        )
        for _ in range(3)
    ]
    thin = store_thin(runtime, fake_stripe.thin.meter_error("mtr_1", {"a_code": 1}))
    registry = {**TEST_REGISTRY}
    outcome = process_events(
        runtime, [*snapshot, thin], registry, THIN_REGISTRY, gateway=lambda: gateway
    )
    assert sorted(outcome.processed) == sorted([*snapshot, thin])
    assert effects(db) == 3 and count(db, "notifications") == 1


def test_the_gateway_fetches_api_paths_only(gateway: StripeGateway) -> None:
    for url in ("https://evil.example/v1/customers/cus_1", "//evil/v1/x", "/v1/../x", "v1/x"):
        with pytest.raises(ValueError):
            gateway.retrieve_path(url)


def test_a_thin_envelope_with_an_unprefixed_type_still_takes_the_thin_path(
    runtime: Runtime, db: Engine, fake_stripe: FakeStripe
) -> None:
    """Routing by prefix is a hint: in a message applied together, the envelope decides."""
    odd = store_thin(runtime, fake_stripe.thin.create("test.recorded", None, None))
    snapshot = store_raw(
        runtime,
        orjson.dumps(build_event("test.recorded", {"id": new_id("obj")}, event_id=new_id("evt"))),
    )
    outcome = process_events(runtime, [odd, snapshot], TEST_REGISTRY, THIN_REGISTRY)
    assert outcome.ignored == [odd] and outcome.processed == [snapshot]
    assert effects(db) == 1  # the snapshot handler never saw the thin event
