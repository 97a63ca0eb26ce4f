"""A small asyncio HTTP/1.1 load generator for the credits and usage benchmarks.

Keep-alive connections; open loop (`rate`: requests scheduled at fixed times, latency
measured from the scheduled time, so a stall counts against every request behind it) or
closed loop (`rate=None`: each connection sends its next request when the last answered).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.loadgen import read_response

RequestOf = Callable[[int], bytes]  # request number -> raw HTTP request


@dataclass
class LoadResult:
    requests: int
    elapsed_s: float
    latencies_ms: list[float]
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0

    def pct(self, p: float) -> float:
        lat = self.latencies_ms
        return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else 0.0


def http_request(
    method: str, path: str, token: str, body: bytes = b"", host: str = "bench"
) -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _run(
    port: int, request_of: RequestOf, *, duration: float, rate: float | None, connections: int
) -> LoadResult:
    counter = itertools.count()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    start = time.perf_counter() + 0.2
    deadline = start + duration

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                i = next(counter)
                scheduled = start + i / rate if rate else time.perf_counter()
                if scheduled >= deadline:
                    return
                wait = scheduled - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                sent = scheduled if rate else time.perf_counter()
                writer.write(request_of(i))
                try:
                    status, _ = await read_response(reader)
                except (ConnectionError, asyncio.IncompleteReadError):
                    errors += 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                latencies.append((time.perf_counter() - sent) * 1000)
                statuses[status] += 1
        finally:
            writer.close()

    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return LoadResult(len(latencies), elapsed, latencies, statuses, errors)


def run_load(
    port: int,
    request_of: RequestOf,
    *,
    duration: float,
    rate: float | None = None,
    connections: int = 16,
) -> LoadResult:
    work = _run(port, request_of, duration=duration, rate=rate, connections=connections)
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return asyncio.run(work)
    return uvloop.run(work)
