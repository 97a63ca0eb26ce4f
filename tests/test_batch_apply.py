"""One message's events applied in one transaction, and the split to one-by-one on trouble."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, text

from domain.envelope import EventEnvelope
from domain.mirror.store import key, lock_keys
from domain.mirror.unit import Registration, Unit
from tests.mirror import factory as f
from tests.mirror.support import store as store_events
from tests.support.db import effects, event_row
from tests.support.handlers import TEST_REGISTRY, HandlerFailure, record
from tests.test_processing import set_row, store
from workers.processor import process_events
from workers.runtime import Runtime


def locking(unit: Unit, event: EventEnvelope) -> None:
    """Locks the customer named in the object, like a mirror handler, then records."""
    lock_keys(unit.session, [key("customer", event.object.get("customer"))], unit.batch)
    record(unit, event)


T = 1_720_000_000
REGISTRY = {**TEST_REGISTRY, "test.locking": Registration(locking)}


def test_a_message_is_applied_in_one_transaction(runtime: Runtime, db: Engine) -> None:
    ids = [store(runtime) for _ in range(5)]
    outcome = process_events(runtime, ids, REGISTRY)
    assert outcome.processed == ids
    rows = [event_row(db, i) for i in ids]
    assert all(r["status"] == "processed" for r in rows)  # type: ignore[index]
    # One fenced finish for the whole message: every row got the same processed_at.
    assert len({r["processed_at"] for r in rows}) == 1  # type: ignore[index]
    assert [effects(db, i) for i in ids] == [1] * 5


def test_a_failing_event_splits_the_batch_and_fails_alone(runtime: Runtime, db: Engine) -> None:
    ok = [store(runtime) for _ in range(3)]
    bad = store(runtime, "test.failing")
    ids = [ok[0], bad, ok[1], ok[2]]
    outcome = process_events(runtime, ids, REGISTRY)
    assert outcome.processed == ok and outcome.failed == [bad]
    assert [effects(db, i) for i in ok] == [1, 1, 1]  # applied once, not once per attempt
    assert effects(db, bad) == 0  # its write rolled back in both passes
    row = event_row(db, bad)
    assert row["status"] == "retrying" and row["attempts"] == 1  # type: ignore[index]
    assert HandlerFailure.__name__ in row["last_error"]  # type: ignore[index]


def test_a_busy_object_splits_the_batch_instead_of_waiting(runtime: Runtime, db: Engine) -> None:
    free = store(runtime, "test.locking", customer="cus_free")
    busy = store(runtime, "test.locking", customer="cus_busy")
    with db.connect() as holder:  # another worker is in the middle of cus_busy
        holder.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key("customer", "cus_busy")}
        )
        worker = threading.Thread(target=process_events, args=(runtime, [free, busy], REGISTRY))
        worker.start()
        wait_for_status(db, free, "processed")  # it did not wait for the busy one
        assert event_row(db, busy)["status"] == "processing"  # type: ignore[index]
        holder.rollback()  # releases the lock: the busy event goes on
    worker.join(10)
    assert not worker.is_alive()
    assert event_row(db, busy)["status"] == "processed"  # type: ignore[index]
    assert effects(db, free) == 1 and effects(db, busy) == 1


def test_a_busy_object_in_the_prepared_locks_splits_the_batch(runtime: Runtime, db: Engine) -> None:
    """Mirror events have their locks taken up front, for the whole batch, without waiting."""
    free, busy = (
        f.event("customer.subscription.created", f.subscription(sub, cus, "active"), T)
        for sub, cus in (("sub_free", "cus_free"), ("sub_busy", "cus_busy"))
    )
    ids = store_events(runtime, [free, busy])
    with db.connect() as holder:
        holder.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key("customer", "cus_busy")}
        )
        worker = threading.Thread(target=process_events, args=(runtime, ids))
        worker.start()
        wait_for_status(db, ids[0], "processed")
        assert event_row(db, ids[1])["status"] == "processing"  # type: ignore[index]
        holder.rollback()
    worker.join(10)
    assert event_row(db, ids[1])["status"] == "processed"  # type: ignore[index]


def wait_for_status(db: Engine, event_id: str, status: str) -> None:
    deadline = time.monotonic() + 10
    while event_row(db, event_id)["status"] != status:  # type: ignore[index]
        assert time.monotonic() < deadline, f"{event_id} never reached {status}"
        time.sleep(0.05)


def test_a_lease_lost_inside_a_batch_rolls_back_only_that_event(
    runtime: Runtime, db: Engine
) -> None:
    stolen = store(runtime)
    other = store(runtime, "test.thief")

    def thief(unit: Unit, event: EventEnvelope) -> None:
        record(unit, event)
        if event_row(db, stolen)["lease_token"] != "someone-else":  # type: ignore[index]
            set_row(db, stolen, lease_token="someone-else")  # its lease expired, re-claimed

    outcome = process_events(
        runtime, [stolen, other], {**REGISTRY, "test.thief": Registration(thief)}
    )
    assert outcome.skipped == [stolen] and outcome.processed == [other]
    assert effects(db, stolen) == 0 and effects(db, other) == 1
    assert event_row(db, stolen)["lease_token"] == "someone-else"  # type: ignore[index]
