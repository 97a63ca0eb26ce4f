"""Group commit of webhooks: concurrent requests share one INSERT and one durable COMMIT.

Each request hands its verified event to a writer thread (`ingest.group_commit`), which
inserts whatever has queued up meanwhile in one statement and commits, then answers every
waiting request. An ack is still given only after its row is committed.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from domain import event_log
from domain.event_log import NewEvent
from domain.types import utcnow
from ingest.errors import is_outage
from ingest.group_commit import GroupCommit, Pending

log = structlog.get_logger("ingest.writer")


class StoreFailed(Exception):
    """The event was not stored; the writer has already logged why, with the traceback."""


def _failure(exc: Exception) -> StoreFailed:
    failure = StoreFailed(f"not stored: {type(exc).__name__}")
    failure.__cause__ = exc
    return failure


class GroupCommitWriter(GroupCommit[NewEvent, bool]):
    """Stores events in batches from `threads` writer threads; `store` says whether it was new."""

    def __init__(
        self,
        engine: Engine,
        *,
        threads: int = 2,
        max_batch: int = 500,
        on_commit: Callable[[list[str]], None] | None = None,
    ) -> None:
        self._engine = engine
        self._on_commit = on_commit
        super().__init__(name="group-commit", threads=threads, max_batch=max_batch)

    async def store(self, event: NewEvent) -> bool:
        """Commit `event` durably; True if new, False for a duplicate id; else StoreFailed."""
        return await self.submit(event)

    def _insert(self, events: list[NewEvent]) -> set[str]:
        return _insert_once_more_on_disconnect(self._engine, events)

    def _commit(self, batch: list[Pending[NewEvent, bool]]) -> None:
        unique: dict[str, NewEvent] = {}
        for pending in batch:
            unique.setdefault(pending.item.envelope.event_id, pending.item)
        failed: dict[str, StoreFailed] = {}
        try:
            new_ids = self._insert(list(unique.values()))
        except Exception as exc:
            if len(unique) > 1 and not is_outage(self._engine, exc):
                log.warning(
                    "ingest.batch_failed_retrying_each",
                    count=len(unique),
                    error_type=type(exc).__name__,
                )
                new_ids, failed = self._insert_each(list(unique.values()))
            else:
                log.error(
                    "ingest.store_failed",
                    count=len(batch),
                    error_type=type(exc).__name__,
                    exc_info=exc,
                )
                new_ids, failed = set(), {event_id: _failure(exc) for event_id in unique}
        answered: set[str] = set()
        for pending in batch:
            event_id = pending.item.envelope.event_id
            if event_id in failed:
                pending.fail(failed[event_id])
                continue
            # Within a batch only the first delivery of an id counts as new.
            is_new = event_id in new_ids and event_id not in answered
            answered.add(event_id)
            pending.answer(is_new)
        if new_ids and self._on_commit is not None:
            self._on_commit(sorted(new_ids))

    def _insert_each(self, events: list[NewEvent]) -> tuple[set[str], dict[str, StoreFailed]]:
        """One transaction per event; an outage on the way fails the rest without trying."""
        new_ids: set[str] = set()
        failed: dict[str, StoreFailed] = {}
        for index, event in enumerate(events):
            envelope = event.envelope
            try:
                new_ids |= self._insert([event])
            except Exception as exc:
                log.error(
                    "ingest.store_failed",
                    event_id=envelope.event_id,
                    event_type=envelope.type,
                    error_type=type(exc).__name__,
                    exc_info=exc,
                )
                if is_outage(self._engine, exc):
                    failed.update((e.envelope.event_id, _failure(exc)) for e in events[index:])
                    break
                failed[envelope.event_id] = _failure(exc)
        return new_ids, failed


def _insert_once_more_on_disconnect(engine: Engine, events: list[NewEvent]) -> set[str]:
    """Insert and commit; a connection the server dropped is replaced and tried once more.

    The writer's engine does not ping connections on checkout (a round trip per batch); the
    insert is idempotent, so repeating it after a disconnect is safe.
    """
    for attempt in (1, 2):
        try:
            with engine.begin() as conn:
                return event_log.insert_events(conn, events, utcnow())
        except DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
            log.warning("ingest.reconnecting", error_type=type(exc.orig).__name__)
    raise AssertionError("unreachable")
