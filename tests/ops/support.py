"""Helpers for the ops tests: bulk events, dead-lettering them through the real processor."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import orjson

from domain import event_log
from domain.envelope import parse_envelope
from domain.event_log import NewEvent
from domain.mirror.unit import Registration
from domain.ops.audit import Actor
from domain.ops.service import ReplayService
from domain.samples import build_event, new_id
from domain.settings import load_settings
from domain.types import utcnow
from tests.support.handlers import fail, record
from workers.enqueue import chunks
from workers.processor import process_events
from workers.runtime import Runtime, build_runtime

OPS = Actor("oncall", "cli")
FIXABLE = "test.fixable"
BROKEN: dict[str, Registration] = {FIXABLE: Registration(fail)}
FIXED: dict[str, Registration] = {FIXABLE: Registration(record)}


class Published:
    """Stands in for the broker: remembers what the service published."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, ids: Sequence[str]) -> None:
        self.batches.append(list(ids))

    @property
    def ids(self) -> list[str]:
        return [i for b in self.batches for i in b]


@contextmanager
def runtime_with(max_attempts: int) -> Iterator[Runtime]:
    """A runtime whose retry budget is `max_attempts` and whose retries are due at once."""
    rt = build_runtime(load_settings(retry_max_attempts=max_attempts, retry_base_seconds=0.001))
    try:
        yield rt
    finally:
        rt.engine.dispose()


def store(rt: Runtime, n: int = 1, event_type: str = FIXABLE) -> list[str]:
    """Store `n` events the way ingest does; return their ids in order."""
    rows = []
    for _ in range(n):
        raw = orjson.dumps(build_event(event_type, {"id": new_id("obj")}, event_id=new_id("evt")))
        rows.append(NewEvent(parse_envelope(raw), raw.decode()))
    with rt.engine.begin() as conn:
        event_log.insert_events(conn, rows, utcnow())
    return [r.envelope.event_id for r in rows]


def run_until_settled(
    rt: Runtime, ids: Sequence[str], registry: Mapping[str, Registration], rounds: int = 10
) -> None:
    """Process (and re-process due retries of) `ids` until none is left retrying."""
    import time

    from sqlalchemy import text

    pending = list(ids)
    for _ in range(rounds):
        process_parallel(rt, pending, registry)
        with rt.engine.connect() as conn:
            pending = list(
                conn.execute(
                    text(
                        "SELECT event_id FROM stripe_events WHERE event_id = ANY(:ids)"
                        " AND status NOT IN ('processed', 'ignored', 'dead')"
                    ),
                    {"ids": list(ids)},
                ).scalars()
            )
        if not pending:
            return
        time.sleep(0.01)
    raise AssertionError(f"{len(pending)} events did not settle")


def process_parallel(
    rt: Runtime, ids: Sequence[str], registry: Mapping[str, Registration], threads: int = 4
) -> None:
    """Run the real processor over `ids` in a few threads, like several worker processes."""
    from concurrent.futures import ThreadPoolExecutor

    size = max(1, -(-len(ids) // threads))
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda c: process_events(rt, c, registry), chunks(ids, size)))


def dead_letters(rt: Runtime, n: int, event_type: str = FIXABLE) -> list[str]:
    """`n` stored events that failed through the processor until dead."""
    ids = store(rt, n, event_type)
    run_until_settled(rt, ids, {event_type: Registration(fail)})
    return ids


def service(rt: Runtime, published: Published | None = None) -> ReplayService:
    return ReplayService(rt.engine, published if published is not None else Published())


__all__ = ["BROKEN", "FIXED", "OPS", "Published", "dead_letters", "runtime_with", "store"]
