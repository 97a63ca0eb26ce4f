"""Group commit: many requests' work applied in one transaction by a few threads.

A durable COMMIT (an fsync) is most of a small write's time. Each request hands its item
to a group-commit thread and awaits a future; the thread drains whatever has queued up
meanwhile, applies it all in one transaction (`_commit`, the subclass's), then answers
every waiting request. Under load one fsync covers many requests; when idle a lone item is
committed at once. An answer is given only after its work is committed. Used by the
webhook writer (`ingest.writer`) and the credit gate (`ingest.gate`).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")  # what a request hands over
R = TypeVar("R")  # what it gets back

_STOP = object()


@dataclass(slots=True)
class Pending(Generic[T, R]):
    """One request's item and the future (on its event loop) that answers it."""

    item: T
    future: asyncio.Future[R]
    loop: asyncio.AbstractEventLoop

    def answer(self, value: R) -> None:
        self.loop.call_soon_threadsafe(_set_result, self.future, value)

    def fail(self, exc: BaseException) -> None:
        self.loop.call_soon_threadsafe(_set_exception, self.future, exc)


class GroupCommit(Generic[T, R]):
    """`threads` threads, each committing up to `max_batch` queued items at a time."""

    def __init__(self, *, name: str, threads: int, max_batch: int) -> None:
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    async def submit(self, item: T) -> R:
        """The committed answer for `item` (or the exception that stopped it)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._queue.put(Pending(item, future, loop))
        return await future

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout=10)

    def _commit(self, batch: list[Pending[T, R]]) -> None:
        """Apply the batch in one transaction and answer (or fail) every member."""
        raise NotImplementedError

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(nxt)
            self._commit(batch)  # type: ignore[arg-type]


def _set_result(future: asyncio.Future[R], value: R) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[R], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
