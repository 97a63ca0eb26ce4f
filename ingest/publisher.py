"""Publishes committed event ids to the broker in batches, off the request path.

If the broker is down the ids are dropped here on purpose: their rows are committed as
`received`, and the sweeper re-publishes them once the broker answers again.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence

import structlog
from sqlalchemy import Engine, text

from domain import event_log
from domain.types import utcnow

log = structlog.get_logger("ingest.publisher")

_ASYNC_COMMIT = text("SET LOCAL synchronous_commit = off")
PublishFn = Callable[[Sequence[str]], None]


class BatchPublisher:
    """A thread that sends queued ids as batch messages and marks their rows `queued`."""

    def __init__(
        self,
        engine: Engine,
        publish: PublishFn,
        *,
        batch_size: int = 50,
        linger_seconds: float = 0.025,
        backoff_seconds: float = 2.0,
        max_pending: int = 100_000,
        max_batches_per_mark: int = 10,
    ) -> None:
        self._engine = engine
        self._publish = publish
        self._batch_size = batch_size
        self._linger = linger_seconds
        self._backoff = backoff_seconds
        self._max_batches_per_mark = max_batches_per_mark
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=max_pending)
        self._broker_down_until = 0.0
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)
        self._thread.start()

    def submit(self, event_ids: Sequence[str]) -> None:
        """Queue ids for publishing; never blocks (a full queue leaves them to the sweeper)."""
        for event_id in event_ids:
            try:
                self._queue.put_nowait(event_id)
            except queue.Full:
                log.warning("publisher.queue_full", event_id=event_id)
                return

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _take_batch(self) -> tuple[list[str], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        deadline = time.monotonic() + self._linger
        while len(batch) < self._batch_size:
            remaining = deadline - time.monotonic()
            try:
                item = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else (self._queue.get_nowait())
                )
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._take_batch()
            batches = [batch] if batch else []
            # Under load whole batches are already waiting: send them as their own messages
            # but mark them `queued` in one UPDATE (one round trip, one commit).
            while (
                not stopping
                and len(batches) < self._max_batches_per_mark
                and self._queue.qsize() >= self._batch_size
            ):
                batch, stopping = self._take_batch()
                if batch:
                    batches.append(batch)
            if batches:
                self._send(batches)

    def _send(self, batches: list[list[str]]) -> None:
        if time.monotonic() < self._broker_down_until:
            return  # recently failed: leave these to the sweeper instead of piling up waits
        sent: list[str] = []
        for batch in batches:
            try:
                self._publish(batch)
            except Exception as exc:
                self._broker_down_until = time.monotonic() + self._backoff
                log.warning(
                    "publisher.broker_unavailable",
                    count=len(batch),
                    error_type=type(exc).__name__,
                    error=str(exc)[:200],
                )
                break
            sent += batch
        if sent:
            self._mark(sent)

    def _mark(self, batch: list[str]) -> None:
        try:
            with self._engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # Bookkeeping: if a crash loses this commit the rows stay `received` and
                    # the sweeper publishes them again, so it need not wait for the WAL flush.
                    conn.execute(_ASYNC_COMMIT)
                event_log.mark_published(conn, batch, utcnow())
        except Exception as exc:  # the message is out; the status is only bookkeeping
            log.warning("publisher.mark_failed", count=len(batch), error_type=type(exc).__name__)
