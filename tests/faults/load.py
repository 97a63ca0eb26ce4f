"""Steady, bounded load for the fault suite: webhook deliveries retried like Stripe, and a
poller of the read, command, health and metrics routes. Every answer is recorded.

An event is *acked* once a delivery of it got a 2xx. A 503 or a dropped connection is not
an ack: the delivery is retried with backoff (as Stripe does, compressed in time) until it
is acked or its patience runs out. A 500 is recorded wherever it happens (it is never
allowed) and the delivery is retried too.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from tests.faults.lifecycles import Event
from tests.support.env import WEBHOOK_SECRET
from tests.support.stripe_events import signed_headers


@dataclass
class Ledger:
    """What every request got, across the loader and the poller (thread-safe)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: collections.Counter[tuple[str, int]] = field(default_factory=collections.Counter)
    connection_errors: collections.Counter[str] = field(default_factory=collections.Counter)
    server_errors: list[str] = field(default_factory=list)  # every 500, with route and body
    acked: set[str] = field(default_factory=set)
    posts: int = 0
    gave_up: list[str] = field(default_factory=list)

    def answer(self, route: str, status: int, text: str) -> None:
        with self.lock:
            self.statuses[(route, status)] += 1
            if status == 500:
                self.server_errors.append(f"{route}: {text[:300]}")

    def failed(self, route: str, exc: Exception) -> None:
        with self.lock:
            self.connection_errors[f"{route}: {type(exc).__name__}"] += 1

    def count(self, status: int) -> int:
        with self.lock:
            return sum(n for (_, s), n in self.statuses.items() if s == status)


class Loader:
    """Posts deliveries at `rate` per second from `threads` connections, retrying until acked.

    Retries wait 0.2 s doubling up to 2 s, for at most `patience` seconds per delivery (Stripe
    retries for three days; the suite only needs to outlast its own faults).
    """

    def __init__(
        self,
        url: str,
        ledger: Ledger,
        rate: float = 100.0,
        threads: int = 4,
        patience: float = 90.0,
        secret: str = WEBHOOK_SECRET,
    ) -> None:
        self.url, self.ledger, self.rate, self.patience = url, ledger, rate, patience
        self.secret = secret
        self._heap: list[tuple[float, int, Event, int, float]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._pending = 0
        self._closed = False
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self, deliveries: Sequence[Event]) -> Loader:
        start = time.monotonic()
        with self._cond:
            for n, event in enumerate(deliveries):
                self._push(start + n / self.rate, event, 0, start)
        for thread in self._threads:
            thread.start()
        return self

    def _push(self, due: float, event: Event, attempt: int, first: float) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), event, attempt, first))
        self._pending += 1

    def _take(self) -> tuple[Event, int, float] | None:
        with self._cond:
            while True:
                if self._closed or (not self._heap and self._pending == 0):
                    return None
                if self._heap:
                    due = self._heap[0][0]
                    now = time.monotonic()
                    if due <= now:
                        _, _, event, attempt, first = heapq.heappop(self._heap)
                        return event, attempt, first
                    self._cond.wait(due - now)
                else:
                    self._cond.wait(0.1)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while (job := self._take()) is not None:
                event, attempt, first = job
                acked = self._post(client, event)
                with self._cond:
                    self._pending -= 1
                    if not acked:
                        if time.monotonic() - first > self.patience:
                            self.ledger.gave_up.append(event.event_id)
                        else:
                            delay = min(2.0, 0.2 * 2**attempt) * random.uniform(0.75, 1.0)
                            self._push(time.monotonic() + delay, event, attempt + 1, first)
                    self._cond.notify_all()

    def _post(self, client: httpx.Client, event: Event) -> bool:
        route = "POST /webhooks/stripe"
        with self.ledger.lock:
            self.ledger.posts += 1
        try:
            response = client.post(
                f"{self.url}/webhooks/stripe",
                content=event.body,
                headers=signed_headers(event.body, self.secret),
            )
        except httpx.HTTPError as exc:  # a web worker killed mid-request, say
            self.ledger.failed(route, exc)
            return False
        self.ledger.answer(route, response.status_code, response.text)
        if 200 <= response.status_code < 300:
            with self.ledger.lock:
                self.ledger.acked.add(event.event_id)
            return True
        return False

    def wait(self, timeout: float) -> bool:
        """Wait until every delivery was acked or gave up; True if none is left."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending and time.monotonic() < deadline:
                self._cond.wait(0.2)
            return self._pending == 0

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(15)


class Poller:
    """GETs the product-facing routes in a loop (about `rate` requests per second)."""

    def __init__(
        self,
        url: str,
        ledger: Ledger,
        targets: Callable[[], list[tuple[str, str, dict[str, str]]]],
        rate: float = 20.0,
    ) -> None:
        self.url, self.ledger, self.targets, self.rate = url, ledger, targets, rate
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Poller:
        self._thread.start()
        return self

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                for route, path, headers in self.targets():
                    if self._stop.is_set():
                        return
                    try:
                        response = client.get(path, headers=headers)
                    except httpx.HTTPError as exc:
                        self.ledger.failed(route, exc)
                    else:
                        self.ledger.answer(route, response.status_code, response.text)
                    self._stop.wait(1 / self.rate)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(15)
