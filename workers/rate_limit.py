"""A rate limiter shared by every worker: GCRA (generic cell rate algorithm) in one Lua script.

GCRA keeps a single number per key, the "theoretical arrival time" of the next call, so
the check-and-update is one atomic round trip and costs O(1) memory however high the rate.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import redis

# KEYS[1]: limiter key. ARGV: now (ms), emission interval (ms), burst tolerance (ms).
# Returns 0 when the call may go now, else how many ms to wait before asking again.
GCRA_LUA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then return math.ceil(allow_at - now) end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now + interval))
return 0
"""


class RateLimiter(Protocol):
    """Blocks until one more outbound call fits under the configured rate."""

    def acquire(self, timeout: float = 60.0) -> None: ...


class RateLimitTimeout(RuntimeError):
    """No slot was free within the caller's patience."""


class RedisRateLimiter:
    """GCRA over Redis: at most `per_second` calls per second across all processes."""

    def __init__(
        self,
        client: redis.Redis,
        per_second: float,
        *,
        burst: int = 1,
        key: str = "billing:ratelimit:stripe",
    ) -> None:
        self._client = client
        self._key = key
        self._interval_ms = 1000.0 / per_second
        # Burst 1 spaces calls evenly: Stripe counts per second and a bunched second trips it.
        self._tolerance_ms = self._interval_ms * max(0, burst - 1)
        self._script = client.register_script(GCRA_LUA)

    def try_acquire(self, now_ms: float | None = None) -> float:
        """Take a slot if free (0.0), else return the seconds to wait before trying again."""
        now = time.time() * 1000 if now_ms is None else now_ms
        wait_ms = self._script(keys=[self._key], args=[now, self._interval_ms, self._tolerance_ms])
        return float(wait_ms) / 1000.0

    def acquire(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while (wait := self.try_acquire()) > 0:
            if time.monotonic() + wait > deadline:
                raise RateLimitTimeout(f"no Stripe call slot within {timeout}s")
            time.sleep(wait)


class LocalRateLimiter:
    """The same rule in one process, for the embedded default (no Redis there)."""

    def __init__(self, per_second: float) -> None:
        self._interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self, timeout: float = 60.0) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            if slot - now > timeout:
                raise RateLimitTimeout(f"no Stripe call slot within {timeout}s")
            self._next = slot + self._interval
        time.sleep(max(0.0, slot - now))


def limiter_for(url: str, per_second: float, *, key_prefix: str = "") -> RateLimiter:
    """Redis-backed when `url` is a Redis URL, else in-process."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        return RedisRateLimiter(client, per_second, key=f"{key_prefix}billing:ratelimit:stripe")
    return LocalRateLimiter(per_second)
