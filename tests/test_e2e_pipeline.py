"""End to end with real processes: uvicorn, Celery workers and the sweeper on Postgres + Redis.

These prove invariants 1, 2, 3 and 5 of DESIGN.md with nothing mocked: duplicate deliveries
in parallel, a broker that goes away, a worker killed mid-handler, a handler that always fails.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.support.db import count, effects, event_row, statuses
from tests.support.env import service_env
from tests.support.processes import Proc, start_server, start_sweeper, start_worker, wait_until
from tests.support.redis_server import RedisServer
from tests.support.stripe_events import event_body, signed_headers

pytestmark = pytest.mark.slow


class Stack:
    """The three service processes sharing one environment."""

    def __init__(self, env: dict[str, str], log_dir: Path, workers: int = 1) -> None:
        self.env = env
        self.log_dir = log_dir
        self.server, self.url = start_server(env, log_dir)
        self.workers = [start_worker(env, log_dir, concurrency=2) for _ in range(workers)]
        self.sweeper = start_sweeper(env, log_dir)

    def post(self, body: bytes, client: httpx.Client | None = None) -> httpx.Response:
        poster = client or httpx
        return poster.post(
            f"{self.url}/webhooks/stripe", content=body, headers=signed_headers(body), timeout=10
        )

    def logs(self) -> str:
        procs: list[Proc] = [self.server, *self.workers, self.sweeper]
        return "\n".join(f"--- {p.log_path.name}\n{p.output()[-3000:]}" for p in procs)

    def stop(self) -> None:
        for proc in [self.server, *self.workers, self.sweeper]:
            proc.stop()


@pytest.fixture
def stack(db: Engine, private_redis: RedisServer, log_dir: Path) -> Iterator[Stack]:
    s = Stack(service_env(BROKER_URL=private_redis.url), log_dir)
    yield s
    s.stop()


def all_done(engine: Engine, ids: list[str]) -> bool:
    rows = [event_row(engine, i) for i in ids]
    return all(r is not None and r["status"] in {"processed", "ignored", "dead"} for r in rows)


def test_posted_events_are_processed_once(stack: Stack, db: Engine) -> None:
    ids = []
    for event_type in ["test.recorded"] * 5 + ["unhandled.type"]:
        event_id, body = event_body(event_type)
        assert stack.post(body).status_code == 200
        ids.append(event_id)
    assert wait_until(lambda: all_done(db, ids), 30), stack.logs()
    assert [event_row(db, i)["status"] for i in ids] == ["processed"] * 5 + ["ignored"]  # type: ignore[index]
    assert all(effects(db, i) == 1 for i in ids[:5])


def test_fifty_concurrent_deliveries_of_one_event(stack: Stack, db: Engine) -> None:
    event_id, body = event_body("test.recorded")
    with (
        httpx.Client(limits=httpx.Limits(max_connections=50)) as client,
        ThreadPoolExecutor(50) as pool,
    ):
        responses = list(pool.map(lambda _: stack.post(body, client), range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert sum(not r.json()["duplicate"] for r in responses) == 1
    assert wait_until(lambda: all_done(db, [event_id]), 30), stack.logs()
    assert count(db, "stripe_events") == 1
    assert effects(db, event_id) == 1


def test_failing_handler_ends_dead_with_a_dead_letter(stack: Stack, db: Engine) -> None:
    event_id, body = event_body("test.failing")
    assert stack.post(body).status_code == 200
    assert wait_until(lambda: all_done(db, [event_id]), 40), stack.logs()
    row = event_row(db, event_id)
    assert row["status"] == "dead"  # type: ignore[index]
    assert row["attempts"] == int(stack.env["RETRY_MAX_ATTEMPTS"])  # type: ignore[index]
    assert count(db, "dead_letters") == 1
    assert effects(db, event_id) == 0


def test_broker_down_at_ingest_then_back(
    db: Engine, private_redis: RedisServer, log_dir: Path
) -> None:
    stack = Stack(service_env(BROKER_URL=private_redis.url), log_dir)
    try:
        private_redis.stop()
        ids = []
        for _ in range(20):
            event_id, body = event_body("test.recorded")
            response = stack.post(body)
            assert response.status_code == 200, response.text
            ids.append(event_id)
        # stored and acked; the sweeper may already have tried (and failed) to re-publish some
        assert set(statuses(db)) <= {"received", "queued"}
        assert sum(statuses(db).values()) == 20
        private_redis.start()  # a restarted Redis: same address, nothing in it
        assert wait_until(lambda: all_done(db, ids), 60), stack.logs()
        assert statuses(db) == {"processed": 20}
        assert all(effects(db, i) == 1 for i in ids)
    finally:
        stack.stop()


def test_broker_flushed_after_publish(
    db: Engine, private_redis: RedisServer, log_dir: Path
) -> None:
    env = service_env(BROKER_URL=private_redis.url)
    server, url = start_server(env, log_dir)
    try:
        ids = []
        for _ in range(10):
            event_id, body = event_body("test.recorded")
            assert (
                httpx.post(
                    f"{url}/webhooks/stripe", content=body, headers=signed_headers(body)
                ).status_code
                == 200
            )
            ids.append(event_id)
        assert wait_until(lambda: statuses(db) == {"queued": 10}, 10)
        import redis

        redis.Redis.from_url(private_redis.url).flushall()  # the messages are gone
        worker, sweeper = start_worker(env, log_dir), start_sweeper(env, log_dir)
        try:
            assert wait_until(lambda: all_done(db, ids), 60), worker.output()[-3000:]
            assert all(effects(db, i) == 1 for i in ids)
        finally:
            worker.stop()
            sweeper.stop()
    finally:
        server.stop()


def test_worker_sigkilled_mid_handler(
    db: Engine, private_redis: RedisServer, log_dir: Path
) -> None:
    stack = Stack(service_env(BROKER_URL=private_redis.url), log_dir)
    try:
        event_id, body = event_body("test.slow", sleep=2)
        assert stack.post(body).status_code == 200
        assert wait_until(
            lambda: (event_row(db, event_id) or {}).get("status") == "processing", 20
        ), stack.logs()
        victim = stack.workers.pop()
        os.killpg(victim.pid, signal.SIGKILL)  # the worker and its pool children, no cleanup
        victim.popen.wait(10)
        assert effects(db, event_id) == 0
        stack.workers.append(start_worker(stack.env, log_dir))
        assert wait_until(lambda: all_done(db, [event_id]), 60), stack.logs()
        row = event_row(db, event_id)
        assert row["status"] == "processed"  # type: ignore[index]
        assert effects(db, event_id) == 1
    finally:
        stack.stop()
