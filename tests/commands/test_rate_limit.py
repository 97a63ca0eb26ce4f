"""The shared GCRA rate limiter: exact with fakeredis, and on the real Redis across threads."""

from __future__ import annotations

import threading
import time

import fakeredis
import redis

from tests.support.env import BROKER_KEY_PREFIX, TEST_BROKER_URL
from workers.rate_limit import LocalRateLimiter, RedisRateLimiter


def test_gcra_spaces_calls_at_the_rate() -> None:
    limiter = RedisRateLimiter(fakeredis.FakeRedis(), per_second=10)
    assert limiter.try_acquire(now_ms=1000) == 0
    assert limiter.try_acquire(now_ms=1000) == 0.1  # the next slot is 100 ms later
    assert limiter.try_acquire(now_ms=1050) == 0.05
    assert limiter.try_acquire(now_ms=1100) == 0
    assert limiter.try_acquire(now_ms=5000) == 0  # idle time is not banked beyond the burst
    assert limiter.try_acquire(now_ms=5000) == 0.1


def test_gcra_burst_allows_that_many_at_once() -> None:
    limiter = RedisRateLimiter(fakeredis.FakeRedis(), per_second=10, burst=3)
    assert [limiter.try_acquire(now_ms=0) for _ in range(4)] == [0, 0, 0, 0.1]


def test_limiters_on_one_key_share_the_budget() -> None:
    server = fakeredis.FakeServer()
    a = RedisRateLimiter(fakeredis.FakeRedis(server=server), per_second=5)
    b = RedisRateLimiter(fakeredis.FakeRedis(server=server), per_second=5)
    assert a.try_acquire(now_ms=0) == 0
    assert b.try_acquire(now_ms=0) == 0.2


def test_real_redis_holds_many_threads_under_the_rate(broker: redis.Redis) -> None:
    limiter = RedisRateLimiter(
        redis.Redis.from_url(TEST_BROKER_URL), per_second=50, key=f"{BROKER_KEY_PREFIX}limiter"
    )
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 40 calls at 50/s: the first is free, the other 39 need 39 intervals of 20 ms.
    assert time.monotonic() - started >= 39 / 50 * 0.95
    stamps.sort()
    per_window = max(sum(1 for s in stamps if t0 <= s < t0 + 0.2) for t0 in stamps)
    assert per_window <= 11


def test_local_limiter_for_the_embedded_default() -> None:
    limiter = LocalRateLimiter(per_second=100)
    started = time.monotonic()
    for _ in range(11):
        limiter.acquire()
    assert time.monotonic() - started >= 0.09
