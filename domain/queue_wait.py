"""How long the event queue makes a message wait, and when a `queued` event counts as lost.

The sweeper cannot ask the broker (it may be Redis, RabbitMQ or SQLite, and down), so it
reads the wait off the database: every finished event keeps the time of its last publish
(`published_at`) and of its finish (`processed_at`). The broker's `events` queue is first
in, first out, so the events finishing now are the ones published `wait` seconds ago, and a
`queued` event published earlier than that, by more than the grace, has been overtaken by
later messages: its own message is gone. A message that is only waiting behind a deep
backlog is never overtaken, however long the backlog takes to drain.

Why not the backlog ahead of the event divided by the throughput: while a backlog drains,
the rows ahead of a waiting event shrink as fast as its age grows, so "age > grace + ahead /
throughput" still fires halfway through its wait for every event queued behind more than a
grace of work (tests/test_queue_wait.py simulates both). The backlog and its drain time are
still reported (`sweeper.backlog`), for the operator.

Pure functions; domain.sweep reads the sample and applies the cutoff in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

# The sample: the last SAMPLE_SIZE events finished within WINDOW (one index range read).
WINDOW = timedelta(seconds=60)
SAMPLE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class QueueEstimate:
    """What the sweeper knows of the queue: its depth, how fast it drains, how long it waits.

    `wait_s` is the longest publish -> finish time among the sampled events; 0 when nothing
    finished within the window (then `throughput_per_s` is 0 too).
    """

    backlog: int
    throughput_per_s: float
    wait_s: float

    @property
    def drain_s(self) -> float | None:
        """Seconds the current backlog takes at the current rate (None when nothing drains)."""
        if self.throughput_per_s <= 0:
            return None
        return self.backlog / self.throughput_per_s


def estimate(
    finished: Sequence[tuple[datetime, datetime | None]],
    backlog: int,
    now: datetime,
    window: timedelta = WINDOW,
    sample_size: int = SAMPLE_SIZE,
) -> QueueEstimate:
    """The estimate from `finished`: (processed_at, published_at) of the latest finished events.

    `finished` holds at most `sample_size` events finished after `now - window`, newest
    first or in any order. A full sample spans less than the window, so the rate is taken
    over its own span.
    """
    if not finished:
        return QueueEstimate(backlog=backlog, throughput_per_s=0.0, wait_s=0.0)
    span = window.total_seconds()
    if len(finished) >= sample_size:
        oldest = min(processed for processed, _ in finished)
        span = min(span, max((now - oldest).total_seconds(), 1e-3))
    waits = [
        (processed - published).total_seconds()
        for processed, published in finished
        if published is not None
    ]
    return QueueEstimate(
        backlog=backlog,
        throughput_per_s=len(finished) / span,
        wait_s=max([0.0, *waits]),
    )


def lost_after(est: QueueEstimate, grace_s: float, max_wait_s: float) -> float:
    """Seconds since its publish after which a `queued` event is taken for lost.

    `grace + wait`, the wait capped at `max_wait_s` so that a lost message is published
    again within `grace + max_wait_s` whatever the estimate says. When nothing finished
    within the window, the plain grace: the database cannot tell workers that are all
    down from workers idle because the broker lost every message, and in the second case
    only a new publish helps (in the first, the duplicates wait with the originals).
    """
    if est.throughput_per_s <= 0:
        return grace_s
    return grace_s + min(max(max_wait_s, 0.0), est.wait_s)


def is_lost(age_s: float, est: QueueEstimate, grace_s: float, max_wait_s: float) -> bool:
    """True when a `queued` event published `age_s` seconds ago should be published again."""
    return age_s > lost_after(est, grace_s, max_wait_s)
