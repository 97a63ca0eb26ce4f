"""Group commit for the credit gate: concurrent consumes share one transaction and one COMMIT.

A durable COMMIT (an fsync, a few milliseconds on this machine's disk) is most of a
consume's time, and while it runs the account's balance row stays locked: one COMMIT per
request caps one account at a few hundred consumes a second. As `ingest.writer` does for
webhooks, each request hands its consume to a gate thread and awaits a future; the thread
drains what has queued meanwhile and applies it in one transaction with
`domain.credits.ledger.consume_batch` (the same decisions as one `consume` after another,
in a fixed number of statements; rows locked in account order, so two batches never
deadlock), then commits once and answers every request. An answer is given only after its
entry is committed. If the batch fails for another reason than an outage, each consume is
retried in a transaction of its own.
"""

from __future__ import annotations

import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from domain.credits import ledger
from domain.types import utcnow
from ingest.errors import is_outage
from ingest.group_commit import GroupCommit, Pending

log = structlog.get_logger("ingest.gate")


Consume = ledger.ConsumeRequest


class GroupCommitGate(GroupCommit[Consume, ledger.ConsumeOutcome]):
    """Applies consumes in batches from `threads` gate threads."""

    def __init__(self, engine: Engine, *, threads: int = 2, max_batch: int = 200) -> None:
        self._engine = engine
        super().__init__(name="credit-gate", threads=threads, max_batch=max_batch)

    async def consume(self, consume: Consume) -> ledger.ConsumeOutcome:
        """The committed outcome of `consume` (or the exception that stopped it)."""
        return await self.submit(consume)

    async def aclose(self) -> None:
        """Stop the threads (what is queued is answered first)."""
        self.close()

    def _apply(
        self, batch: list[Pending[Consume, ledger.ConsumeOutcome]]
    ) -> list[ledger.ConsumeOutcome]:
        """One transaction; a connection the server dropped is replaced and tried once more."""
        for attempt in (1, 2):
            try:
                with Session(self._engine) as session, session.begin():
                    now = utcnow()
                    if len(batch) > 1:
                        return ledger.consume_batch(session, [p.item for p in batch], now)
                    c = batch[0].item
                    one = ledger.consume(
                        session,
                        consume_id=c.consume_id,
                        account_ref=c.account_ref,
                        credits=c.credits,
                        meter=c.meter,
                        now=now,
                    )
                    return [one]
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
                log.warning("gate.reconnecting", error_type=type(exc.orig).__name__)
        raise AssertionError("unreachable")

    def _commit(self, batch: list[Pending[Consume, ledger.ConsumeOutcome]]) -> None:
        try:
            outcomes = self._apply(batch)
        except Exception as exc:
            if len(batch) > 1 and not is_outage(self._engine, exc):
                log.warning("gate.batch_failed_retrying_each", count=len(batch))
                for pending in batch:
                    self._commit([pending])
                return
            log.error(
                "gate.consume_failed",
                count=len(batch),
                error_type=type(exc).__name__,
                exc_info=exc,
            )
            for pending in batch:
                pending.fail(exc)
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            pending.answer(outcome)
