"""The edge publisher on real Postgres: messages stay at most PUBLISH_BATCH_SIZE ids, waiting
batches are marked `queued` together, and only what the broker took is marked."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from sqlalchemy import Engine, text

from domain import event_log
from domain.envelope import parse_envelope
from domain.event_log import NewEvent
from domain.types import utcnow
from ingest.publisher import BatchPublisher
from tests.support.processes import wait_until
from tests.support.stripe_events import event_body


def _store(db: Engine, n: int) -> list[str]:
    events = []
    for _ in range(n):
        _, body = event_body("publisher.batched")
        events.append(NewEvent(envelope=parse_envelope(body), raw_body=body.decode()))
    with db.begin() as conn:
        event_log.insert_events(conn, events, utcnow())
    return [e.envelope.event_id for e in events]


def _statuses(db: Engine, ids: list[str]) -> dict[str, str]:
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT event_id, status FROM stripe_events WHERE event_id = ANY(:ids)"),
            {"ids": ids},
        ).all()
    return {row[0]: row[1] for row in rows}


class Broker:
    def __init__(self, fail_after: int | None = None) -> None:
        self.messages: list[list[str]] = []
        self.fail_after = fail_after
        self.gate = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, ids: Sequence[str]) -> None:
        self.gate.wait(10)  # hold the first send until everything is queued behind it
        with self.lock:
            if self.fail_after is not None and len(self.messages) >= self.fail_after:
                raise ConnectionError("broker down (simulated)")
            self.messages.append(list(ids))


def test_waiting_batches_go_out_as_separate_messages_and_all_get_marked(db: Engine) -> None:
    ids = _store(db, 260)
    broker = Broker()
    publisher = BatchPublisher(db, broker, batch_size=50, linger_seconds=0.01)
    try:
        publisher.submit(ids[:1])  # taken at once; its send blocks on the gate
        assert wait_until(lambda: publisher._queue.qsize() == 0, timeout=5)
        publisher.submit(ids[1:])
        broker.gate.set()
        assert wait_until(lambda: set(_statuses(db, ids).values()) == {"queued"}, timeout=10)
    finally:
        publisher.close()
    assert all(len(message) <= 50 for message in broker.messages)
    assert sorted(i for m in broker.messages for i in m) == sorted(ids)


def test_only_what_the_broker_took_is_marked(db: Engine) -> None:
    ids = _store(db, 151)
    broker = Broker(fail_after=2)
    publisher = BatchPublisher(db, broker, batch_size=50, linger_seconds=0.01)
    try:
        publisher.submit(ids[:1])
        assert wait_until(lambda: publisher._queue.qsize() == 0, timeout=5)
        publisher.submit(ids[1:])
        broker.gate.set()
        assert wait_until(lambda: publisher._queue.qsize() == 0, timeout=10)
        assert wait_until(
            lambda: sum(s == "queued" for s in _statuses(db, ids).values()) == 51, timeout=10
        )
    finally:
        publisher.close()
    sent = {i for m in broker.messages for i in m}
    statuses = _statuses(db, ids)
    assert {i for i, s in statuses.items() if s == "queued"} == sent
    assert sum(s == "received" for s in statuses.values()) == 100  # left to the sweeper
