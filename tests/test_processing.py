"""process_events and the sweeper in-process on real Postgres: claims, retries, dead letters."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import Engine, text, update

from domain import event_log
from domain.envelope import EventEnvelope, parse_envelope
from domain.event_log import NewEvent
from domain.mirror.unit import Registration, Unit
from domain.models import EventStatus, StripeEvent
from domain.samples import build_event, new_id
from domain.types import utcnow
from tests.support.db import count, effects, event_row
from tests.support.handlers import TEST_REGISTRY, record
from workers.processor import process_events
from workers.runtime import Runtime
from workers.sweeper import sweep_once


class FakeCelery:
    """Captures what the sweeper publishes (the broker itself is tested end to end)."""

    def __init__(self) -> None:
        self.sent: list[list[str]] = []

    def send_task(self, name: str, args: list[Any], **_: Any) -> None:
        self.sent.append(list(args[0]))

    @property
    def ids(self) -> list[str]:
        return [i for batch in self.sent for i in batch]


def store(rt: Runtime, event_type: str = "test.recorded", **obj: Any) -> str:
    event_id = new_id("evt")
    raw = orjson.dumps(build_event(event_type, {"id": new_id("obj"), **obj}, event_id=event_id))
    with rt.engine.begin() as conn:
        event_log.insert_events(conn, [NewEvent(parse_envelope(raw), raw.decode())], utcnow())
    return event_id


def set_row(engine: Engine, event_id: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(event_log.EVENTS).where(StripeEvent.event_id == event_id).values(**values)
        )


def test_handler_runs_and_row_is_processed(runtime: Runtime, db: Engine) -> None:
    event_id = store(runtime)
    outcome = process_events(runtime, [event_id], TEST_REGISTRY)
    assert outcome.processed == [event_id]
    row = event_row(db, event_id)
    assert row["status"] == "processed" and row["processed_at"] is not None  # type: ignore[index]
    assert row["lease_token"] is None  # type: ignore[index]
    assert effects(db, event_id) == 1


def test_redelivery_of_processed_event_changes_nothing(runtime: Runtime, db: Engine) -> None:
    event_id = store(runtime)
    process_events(runtime, [event_id], TEST_REGISTRY)
    again = process_events(runtime, [event_id, event_id], TEST_REGISTRY)
    assert again.skipped == [event_id, event_id]
    assert effects(db, event_id) == 1


def test_event_without_handler_is_ignored(runtime: Runtime, db: Engine) -> None:
    event_id = store(runtime, "some.unknown_type")
    outcome = process_events(runtime, [event_id], TEST_REGISTRY)
    assert outcome.ignored == [event_id]
    assert event_row(db, event_id)["status"] == "ignored"  # type: ignore[index]


def test_event_leased_by_a_live_worker_is_skipped(runtime: Runtime, db: Engine) -> None:
    event_id = store(runtime)
    set_row(
        db,
        event_id,
        status=EventStatus.PROCESSING,
        lease_token="other",
        lease_expires_at=utcnow() + timedelta(minutes=5),
    )
    assert process_events(runtime, [event_id], TEST_REGISTRY).skipped == [event_id]
    assert effects(db, event_id) == 0


def test_expired_lease_can_be_claimed(runtime: Runtime, db: Engine) -> None:
    event_id = store(runtime)
    set_row(
        db,
        event_id,
        status=EventStatus.PROCESSING,
        lease_token="dead-worker",
        lease_expires_at=utcnow() - timedelta(seconds=1),
    )
    assert process_events(runtime, [event_id], TEST_REGISTRY).processed == [event_id]


def test_retrying_event_is_not_claimed_before_its_time(runtime: Runtime, db: Engine) -> None:
    event_id = store(runtime)
    set_row(
        db,
        event_id,
        status=EventStatus.RETRYING,
        attempts=1,
        next_attempt_at=utcnow() + timedelta(minutes=1),
    )
    assert process_events(runtime, [event_id], TEST_REGISTRY).skipped == [event_id]
    set_row(db, event_id, next_attempt_at=utcnow() - timedelta(seconds=1))
    assert process_events(runtime, [event_id], TEST_REGISTRY).processed == [event_id]


def test_failures_retry_with_growing_delays_then_dead_letter(runtime: Runtime, db: Engine) -> None:
    policy = runtime.retry_policy
    event_id = store(runtime, "test.failing")
    for attempt in range(1, policy.max_attempts):
        before = utcnow()
        outcome = process_events(runtime, [event_id], TEST_REGISTRY)
        after = utcnow()
        assert outcome.failed == [event_id]
        row = event_row(db, event_id)
        assert row["status"] == "retrying" and row["attempts"] == attempt  # type: ignore[index]
        assert "handler failed on purpose" in row["last_error"]  # type: ignore[index]
        # The delay was chosen between `before` and `after`; it must lie in this attempt's
        # backoff window [step/2, step], and the windows grow with every attempt.
        due = row["next_attempt_at"]  # type: ignore[index]
        step = min(policy.cap_seconds, policy.base_seconds * 2 ** (attempt - 1))
        assert (due - after).total_seconds() <= step + 0.001
        assert (due - before).total_seconds() >= step / 2 - 0.001
        set_row(db, event_id, next_attempt_at=utcnow())  # let the next attempt through now
    process_events(runtime, [event_id], TEST_REGISTRY)
    row = event_row(db, event_id)
    assert row["status"] == "dead" and row["attempts"] == policy.max_attempts  # type: ignore[index]
    assert effects(db, event_id) == 0  # every failed attempt rolled back its writes
    with db.connect() as conn:
        dead = conn.execute(text("SELECT * FROM dead_letters")).mappings().one()
    assert dead["event_id"] == event_id
    assert dead["attempts"] == policy.max_attempts
    assert dead["error_type"] == "HandlerFailure"
    assert "failed on purpose" in dead["error_message"]
    assert "Traceback" in dead["traceback"] and "def fail" not in dead["error_message"]
    # a dead event is terminal: redelivery does nothing
    assert process_events(runtime, [event_id], TEST_REGISTRY).skipped == [event_id]


def test_sweeper_republishes_stale_unpublished_and_due_events(runtime: Runtime, db: Engine) -> None:
    fresh = store(runtime)
    stale = store(runtime)
    lost = store(runtime)
    due = store(runtime)
    later = store(runtime)
    old = utcnow() - timedelta(minutes=5)
    set_row(db, stale, received_at=old)
    set_row(db, lost, received_at=old, status=EventStatus.QUEUED, published_at=old)
    set_row(db, due, status=EventStatus.RETRYING, next_attempt_at=utcnow() - timedelta(seconds=1))
    set_row(db, later, status=EventStatus.RETRYING, next_attempt_at=utcnow() + timedelta(hours=1))
    celery = FakeCelery()
    result = sweep_once(runtime, celery)  # type: ignore[arg-type]
    assert sorted(result.republish) == sorted([stale, lost, due])
    assert sorted(celery.ids) == sorted([stale, lost, due])
    assert fresh not in celery.ids and later not in celery.ids
    for event_id in (stale, lost, due):
        assert event_row(db, event_id)["status"] == "queued"  # type: ignore[index]
    # just re-published rows wait a grace period before the next sweep touches them
    assert sweep_once(runtime, FakeCelery()).republish == []  # type: ignore[arg-type]


def _retries_metric(event_type: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value("billing_event_retries_total", {"type": event_type})
    return value or 0.0


def test_sweeper_expires_leases_as_failed_attempts(runtime: Runtime, db: Engine) -> None:
    event_id = store(runtime)
    set_row(
        db,
        event_id,
        status=EventStatus.PROCESSING,
        lease_token="gone",
        lease_expires_at=utcnow() - timedelta(seconds=1),
    )
    event_type = event_row(db, event_id)["type"]  # type: ignore[index]
    retries = _retries_metric(event_type)
    result = sweep_once(runtime, FakeCelery())  # type: ignore[arg-type]
    assert result.expired == 1
    assert _retries_metric(event_type) == retries + 1  # an expired lease counts as a retry
    row = event_row(db, event_id)
    assert row["status"] == "retrying" and row["attempts"] == 1  # type: ignore[index]
    assert row["last_error"].startswith("LeaseExpired")  # type: ignore[index]


def test_lease_expiring_on_last_attempt_dead_letters(runtime: Runtime, db: Engine) -> None:
    event_id = store(runtime)
    set_row(
        db,
        event_id,
        status=EventStatus.PROCESSING,
        lease_token="gone",
        attempts=runtime.retry_policy.max_attempts - 1,
        lease_expires_at=utcnow() - timedelta(seconds=1),
    )
    assert sweep_once(runtime, FakeCelery()).dead == 1  # type: ignore[arg-type]
    assert event_row(db, event_id)["status"] == "dead"  # type: ignore[index]
    assert count(db, "dead_letters") == 1


def test_sweeper_publish_failure_keeps_rows_for_next_pass(runtime: Runtime, db: Engine) -> None:
    event_id = store(runtime)
    set_row(db, event_id, received_at=utcnow() - timedelta(minutes=5))

    class DownCelery(FakeCelery):
        def send_task(self, name: str, args: list[Any], **_: Any) -> None:
            raise ConnectionError("down")

    assert sweep_once(runtime, DownCelery()).republish == [event_id]  # type: ignore[arg-type]
    set_row(db, event_id, published_at=utcnow() - timedelta(minutes=5))
    celery = FakeCelery()
    sweep_once(runtime, celery)  # type: ignore[arg-type]
    assert celery.ids == [event_id]


@pytest.mark.parametrize("workers", [2])
def test_concurrent_sweepers_never_hand_out_a_row_twice(
    runtime: Runtime, db: Engine, workers: int
) -> None:
    import threading

    ids = [store(runtime) for _ in range(200)]
    with db.begin() as conn:
        conn.execute(
            update(event_log.EVENTS)
            .where(StripeEvent.event_id.in_(ids))
            .values(received_at=utcnow() - timedelta(minutes=5))
        )
    celeries = [FakeCelery() for _ in range(workers)]
    threads = [threading.Thread(target=sweep_once, args=(runtime, c)) for c in celeries]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    handed_out = [i for c in celeries for i in c.ids]
    assert sorted(handed_out) == sorted(ids)


def test_lost_lease_rolls_back_the_handler(runtime: Runtime, db: Engine) -> None:
    event_id = store(runtime)

    def handler_that_loses_its_lease(unit: Unit, event: EventEnvelope) -> None:
        record(unit, event)
        # Meanwhile the lease expired and another worker claimed the event.
        set_row(db, event_id, lease_token="someone-else")

    outcome = process_events(
        runtime, [event_id], {"test.recorded": Registration(handler_that_loses_its_lease)}
    )
    assert outcome.skipped == [event_id] and outcome.processed == []
    assert effects(db, event_id) == 0
    row = event_row(db, event_id)
    assert row["status"] == "processing" and row["lease_token"] == "someone-else"  # type: ignore[index]
