"""A value refreshed at most every `max_age` seconds, by one caller at a time.

The database gauges of `/metrics` cost several aggregate queries (scans of `commands` and
`notifications`); computed per scrape, a few hundred scrapers slowed the webhook. While one
caller refreshes, the others get the previous value at once (or, before there is one, wait
for that refresh): a scrape never starts a second refresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlightCache(Generic[T]):
    """`get()` returns a value at most `max_age` old; `compute` runs in one thread at a time."""

    def __init__(
        self,
        compute: Callable[[], T],
        max_age: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._compute = compute
        self._max_age = max_age
        self._clock = clock
        self._changed = threading.Condition()
        self._value: T | None = None
        self._computed_at = 0.0
        self._refreshing = False

    def get(self) -> T:
        with self._changed:
            while True:
                if self._value is not None and self._clock() - self._computed_at < self._max_age:
                    return self._value
                if not self._refreshing:
                    self._refreshing = True
                    break
                if self._value is not None:
                    return self._value  # stale, while the one refresh runs
                self._changed.wait()
        try:
            value = self._compute()
        except BaseException:
            with self._changed:
                self._refreshing = False
                self._changed.notify_all()
            raise
        with self._changed:
            self._value, self._computed_at = value, self._clock()
            self._refreshing = False
            self._changed.notify_all()
        return value
