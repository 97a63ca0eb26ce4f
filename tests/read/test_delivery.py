"""Notification delivery to NOTIFY_URL: signed, retried with backoff, dead, never duplicated."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import redis
from sqlalchemy import text

from domain.mirror import delivery
from domain.settings import Settings, SettingsError, load_settings
from domain.types import utcnow
from ingest.signature import SignatureError
from tests.mirror.support import rows
from tests.read import scenario
from tests.read.receiver import NOTIFY_SECRET, Receiver, notify_overrides, running_receiver
from tests.read.support import Pipeline, app_client, app_settings
from tests.support.env import BROKER_KEY_PREFIX
from workers.celery_app import DELIVER_NOTIFICATIONS, app
from workers.notifier import deliver_due
from workers.runtime import Runtime, build_runtime
from workers.sweeper import trigger_delivery


class Clock:
    """Delivery's notion of now; each `skip()` jumps past any retry delay (cap is 1 s)."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def skip(self) -> None:
        self.now += timedelta(seconds=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


@pytest.fixture
def notify_rt(settings: Settings, receiver: Receiver) -> Iterator[Runtime]:
    rt = build_runtime(app_settings(**notify_overrides(receiver)))
    yield rt
    rt.engine.dispose()


@pytest.fixture
def pipe(notify_rt: Runtime) -> Iterator[Pipeline]:
    for client in app_client(notify_rt.settings):
        yield Pipeline(client, notify_rt)


def outbox(rt: Runtime) -> list[dict[str, object]]:
    return rows(
        rt.engine,
        "SELECT id, kind, event_id, delivery_status, attempts, last_error, delivered_at,"
        " next_attempt_at FROM notifications ORDER BY id",
    )


def _delivered_metric() -> float:
    from prometheus_client import REGISTRY

    return sum(
        s.value
        for family in REGISTRY.collect()
        if family.name == "billing_notification_deliveries"
        for s in family.samples
        if s.name.endswith("_total") and s.labels.get("outcome") == "delivered"
    )


def test_every_notification_is_posted_signed_once(
    pipe: Pipeline, notify_rt: Runtime, receiver: Receiver
) -> None:
    pipe.deliver(*scenario.events())
    before = _delivered_metric()
    outcome = deliver_due(notify_rt)
    assert len(outcome.delivered) == 4 and not outcome.retrying and not outcome.dead
    assert _delivered_metric() - before == 4  # billing_notification_deliveries_total moves

    assert [(r.json["kind"], r.json["event_id"]) for r in receiver.requests] == scenario.KINDS
    for request in receiver.requests:
        request.verify()  # valid with NOTIFY_SECRET ...
        with pytest.raises(SignatureError):
            request.verify("some-other-secret-0123456789")  # ... and only with it
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-billing-notification-id"] == str(request.json["id"])
        assert NOTIFY_SECRET not in request.body.decode()
    # The body is the same JSON the feed serves (minus the delivery bookkeeping).
    feed = {n["id"]: n for n in pipe.get("/v1/notifications")["data"]}
    for request in receiver.requests:
        served = feed[request.json["id"]]
        assert served.pop("delivery_status") == "delivered"
        assert request.json == served

    assert {(r["delivery_status"], r["attempts"], r["last_error"]) for r in outbox(notify_rt)} == {
        ("delivered", 1, None)
    }
    assert deliver_due(notify_rt).delivered == []  # nothing is due any more
    assert len(receiver.requests) == 4


def test_retries_with_backoff_until_the_receiver_recovers(
    pipe: Pipeline, notify_rt: Runtime, receiver: Receiver
) -> None:
    pipe.deliver(*scenario.events()[:3])  # activated + payment_failed
    receiver.script = [500, 503, 502, 500, 500, 500]  # first three runs fail both
    clock = Clock()
    for run in range(3):
        outcome = deliver_due(notify_rt, clock=clock)
        assert (len(outcome.retrying), outcome.delivered) == (2, []), run
        for row in outbox(notify_rt):
            assert (row["delivery_status"], row["attempts"]) == ("retrying", run + 1)
            assert row["last_error"] in {"HTTP 500", "HTTP 502", "HTTP 503"}
            # Backoff is in the database, between half and all of base * 2**(attempt-1), capped.
            delay = (row["next_attempt_at"] - clock.now).total_seconds()  # type: ignore[operator]
            step = min(1.0, 0.2 * 2**run)
            assert step / 2 <= delay <= step
        # Not due yet: a run before the backoff passes posts nothing.
        assert deliver_due(notify_rt, clock=clock).retrying == []
        clock.skip()
    outcome = deliver_due(notify_rt, clock=clock)
    assert len(outcome.delivered) == 2
    assert [(r["delivery_status"], r["attempts"], r["last_error"]) for r in outbox(notify_rt)] == [
        ("delivered", 4, None),
        ("delivered", 4, None),
    ]
    first, second = (r["id"] for r in outbox(notify_rt))
    assert receiver.ids() == [first, second] * 4  # same ids each time: receivers dedupe by id
    for request in receiver.requests:
        request.verify()


def test_dead_after_max_attempts(pipe: Pipeline, notify_rt: Runtime, receiver: Receiver) -> None:
    pipe.deliver(*scenario.events()[:2])  # one notification: subscription_activated
    receiver.default = 500
    clock = Clock()
    for _ in range(3):
        assert len(deliver_due(notify_rt, clock=clock).retrying) == 1
        clock.skip()
    outcome = deliver_due(notify_rt, clock=clock)
    assert len(outcome.dead) == 1
    [row] = outbox(notify_rt)
    assert (row["delivery_status"], row["attempts"], row["last_error"]) == ("dead", 4, "HTTP 500")
    assert row["next_attempt_at"] is None and row["delivered_at"] is None
    clock.skip()
    assert deliver_due(notify_rt, clock=clock) == type(outcome)()
    assert len(receiver.requests) == 4
    # The feed still has it, so the product can catch up by cursor.
    [served] = pipe.get("/v1/notifications")["data"]
    assert (served["kind"], served["delivery_status"]) == ("subscription_activated", "dead")


def test_timeouts_and_refused_connections_are_retried(
    settings: Settings, pipe: Pipeline, receiver: Receiver
) -> None:
    pipe.deliver(*scenario.events()[:2])
    receiver.delay = 1.0
    slow = build_runtime(
        app_settings(**{**notify_overrides(receiver), "notify_timeout_seconds": 0.2})
    )
    try:
        assert len(deliver_due(slow).retrying) == 1
        assert outbox(slow)[0]["last_error"] == "ReadTimeout"
    finally:
        slow.engine.dispose()
    nobody = build_runtime(
        app_settings(**{**notify_overrides(receiver), "notify_url": "http://127.0.0.1:9/"})
    )
    try:
        clock = Clock()
        clock.skip()
        assert len(deliver_due(nobody, clock=clock).retrying) == 1
        assert outbox(nobody)[0]["last_error"] == "ConnectError"
        assert outbox(nobody)[0]["attempts"] == 2
    finally:
        nobody.engine.dispose()


def test_replay_after_delivery_posts_nothing_new(
    pipe: Pipeline, notify_rt: Runtime, receiver: Receiver
) -> None:
    events = scenario.events()
    pipe.deliver(*events)
    assert len(deliver_due(notify_rt).delivered) == 4
    pipe.deliver(*events)  # Stripe redelivers: duplicates at the edge
    with notify_rt.engine.begin() as conn:  # ops force a re-run through the handlers
        conn.execute(text("UPDATE stripe_events SET status = 'queued'"))
    pipe.deliver(*events)
    assert deliver_due(notify_rt).delivered == []
    assert len(receiver.requests) == 4 and len(set(receiver.ids())) == 4


def test_sweeper_asks_a_worker_only_when_something_is_due(
    pipe: Pipeline, notify_rt: Runtime, runtime: Runtime, broker: redis.Redis
) -> None:
    assert trigger_delivery(notify_rt, app) is False  # empty outbox: no message
    assert broker.llen(f"{BROKER_KEY_PREFIX}maintenance") == 0
    pipe.deliver(*scenario.events()[:2])
    assert trigger_delivery(runtime, app) is False  # NOTIFY_URL unset: delivery is off
    assert trigger_delivery(notify_rt, app) is True
    [message] = broker.lrange(f"{BROKER_KEY_PREFIX}maintenance", 0, -1)
    assert DELIVER_NOTIFICATIONS.encode() in message
    deliver_due(notify_rt)
    assert trigger_delivery(notify_rt, app) is False  # delivered: nothing due


def test_notify_url_requires_a_secret() -> None:
    with pytest.raises(SettingsError, match="NOTIFY_SECRET: required"):
        load_settings(notify_url="https://product.example/hooks/billing", notify_secret=None)
    with pytest.raises(SettingsError, match="NOTIFY_URL"):
        load_settings(notify_url="product.example/hooks", notify_secret="x" * 20)
    assert load_settings(notify_url="").notify_url is None


def test_rows_left_when_time_runs_out_are_handed_back(
    pipe: Pipeline, notify_rt: Runtime, receiver: Receiver
) -> None:
    pipe.deliver(*scenario.events())
    receiver.delay = 0.6
    outcome = deliver_due(notify_rt, time_budget_seconds=0.3)
    assert len(outcome.delivered) == 1  # the first post overruns the budget
    left = [r for r in outbox(notify_rt) if r["delivery_status"] == "pending"]
    assert len(left) == 3
    assert all(r["attempts"] == 0 for r in left)  # not counted: never attempted
    receiver.delay = 0
    assert len(deliver_due(notify_rt).delivered) == 3  # due again at once, no lease wait
    assert len(receiver.requests) == 4 and len(set(receiver.ids())) == 4


def test_concurrent_claims_skip_locked_rows(pipe: Pipeline, notify_rt: Runtime) -> None:
    pipe.deliver(*scenario.events())
    now, lease = utcnow(), timedelta(seconds=60)
    with notify_rt.sessions.begin() as first:
        mine = delivery.claim_due(first, now, lease, 2)
        # While the first claim's transaction is open, a second worker skips its rows.
        with notify_rt.sessions.begin() as second:
            theirs = delivery.claim_due(second, now, lease, 10)
    assert len(mine) == 2 and len(theirs) == 2
    assert {c.id for c in mine}.isdisjoint({c.id for c in theirs})
    # Both leases are held now: nothing is due until they run out.
    with notify_rt.sessions.begin() as third:
        assert delivery.claim_due(third, now, lease, 10) == []
        assert [c.id for c in delivery.claim_due(third, now + lease * 2, lease, 10)] == sorted(
            c.id for c in mine + theirs
        )
