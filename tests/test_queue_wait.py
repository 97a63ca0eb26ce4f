"""The sweeper's queue estimate and lost-message rule, pure (no database, no broker).

The simulations run a first-in first-out queue drained at a fixed rate, with a sweeper
pass every `interval` that reads its sample the way domain.sweep does and publishes again
every queued row the rule takes for lost.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from domain.queue_wait import (
    SAMPLE_SIZE,
    WINDOW,
    QueueEstimate,
    estimate,
    is_lost,
    lost_after,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_no_finished_event_means_no_throughput_and_plain_grace() -> None:
    est = estimate([], backlog=5000, now=at(100))
    assert est == QueueEstimate(backlog=5000, throughput_per_s=0.0, wait_s=0.0)
    assert est.drain_s is None
    assert lost_after(est, grace_s=60, max_wait_s=600) == 60
    assert is_lost(61, est, grace_s=60, max_wait_s=600)
    assert not is_lost(59, est, grace_s=60, max_wait_s=600)


def test_wait_is_the_longest_publish_to_finish_time_of_the_sample() -> None:
    finished = [(at(100), at(10)), (at(99), at(95)), (at(98), None), (at(97), at(97.5))]
    est = estimate(finished, backlog=300, now=at(100))
    assert est.wait_s == 90
    assert est.throughput_per_s == pytest.approx(4 / WINDOW.total_seconds())
    assert est.drain_s == pytest.approx(300 / est.throughput_per_s)
    assert lost_after(est, grace_s=60, max_wait_s=600) == 150
    assert not is_lost(149, est, grace_s=60, max_wait_s=600)
    assert is_lost(151, est, grace_s=60, max_wait_s=600)


def test_a_full_sample_takes_the_rate_over_its_own_span() -> None:
    # 1,000 events finished over the last 2 s: 500/s, not 1,000 per window.
    finished = [(at(100 - i * 0.002), at(90)) for i in range(SAMPLE_SIZE)]
    est = estimate(finished, backlog=0, now=at(100))
    assert est.throughput_per_s == pytest.approx(SAMPLE_SIZE / 1.998, rel=1e-3)


def test_wait_is_capped_and_never_negative() -> None:
    slow = estimate([(at(5000), at(0))], backlog=1, now=at(5000))
    assert lost_after(slow, grace_s=60, max_wait_s=600) == 660
    # published again after its message was already taken (a duplicate): no negative wait
    dup = estimate([(at(10), at(12))], backlog=1, now=at(12))
    assert dup.wait_s == 0
    # max_wait 0 is the plain grace (the rule before the estimate)
    assert lost_after(slow, grace_s=60, max_wait_s=0) == 60


Rule = Callable[[float, QueueEstimate, int], bool]  # (age, estimate, rows ahead) -> lost


def overtaken(grace: float, max_wait: float) -> Rule:
    """The sweeper's rule (ahead is not used)."""
    return lambda age, est, ahead: is_lost(age, est, grace, max_wait)


@dataclass
class Run:
    republished: list[tuple[int, float, float]] = field(default_factory=list)  # id, when, age
    finished_at: dict[int, float] = field(default_factory=dict)


def simulate(
    publish_times: list[float],
    rate: float,
    rule: Rule,
    interval: float = 0.5,
    lost: Collection[int] = (),
    until: float = 300.0,
    batch: int = 500,
    outage: tuple[float, float] = (0.0, 0.0),
) -> Run:
    """Rows published at `publish_times` (seconds), consumed FIFO at `rate` per second.

    A message for a row in `lost` vanishes at its first publish; a republished row gets a
    new message at the back of the queue and `published_at = now`, as the sweeper does.
    No worker consumes anything during `outage` (start, end).
    """
    run = Run()
    published: dict[int, float] = {}
    queue: deque[int] = deque()
    finished: list[tuple[datetime, datetime | None]] = []
    arrivals = sorted((t, i) for i, t in enumerate(publish_times))
    step, t, a, next_sweep = 1.0 / rate, 0.0, 0, interval
    while len(run.finished_at) < len(publish_times) and t < until:
        while a < len(arrivals) and arrivals[a][0] <= t:
            published[arrivals[a][1]] = arrivals[a][0]
            if arrivals[a][1] not in lost:
                queue.append(arrivals[a][1])
            a += 1
        if t >= next_sweep:
            now = at(t)
            sample = [f for f in finished[-SAMPLE_SIZE:] if f[0] > now - WINDOW]
            waiting = sorted((p, i) for i, p in published.items() if i not in run.finished_at)
            est = estimate(sample, backlog=len(waiting), now=now)
            taken = 0
            for ahead, (p, i) in enumerate(waiting):
                if taken < batch and rule(t - p, est, ahead):
                    run.republished.append((i, t, t - p))
                    published[i] = t
                    queue.append(i)
                    taken += 1
            next_sweep += interval
        if queue and not outage[0] <= t < outage[1]:
            i = queue.popleft()
            if i not in run.finished_at:
                run.finished_at[i] = t
                finished.append((at(t), at(published[i])))
        t += step
    return run


# 6,000 events arrive over 10 s (600/s) and the workers take 250/s: the queue wait climbs to
# ~14 s and the backlog needs ~24 s to drain, against a grace of 3 s.
BURST = [i / 600 for i in range(6000)]


def test_the_plain_grace_publishes_a_draining_backlog_again() -> None:
    run = simulate(BURST, rate=250, rule=overtaken(grace=3, max_wait=0))  # the old rule
    assert len(run.finished_at) == len(BURST)
    assert len(run.republished) > 1000


def test_rows_ahead_over_throughput_still_publishes_the_tail_again() -> None:
    # Why the rule is not "age > grace + rows ahead / throughput": it fires halfway
    # through the wait of every row queued behind more than a grace of work.
    def ahead_rule(age: float, est: QueueEstimate, ahead: int) -> bool:
        if est.throughput_per_s <= 0:
            return age > 3
        return age > 3 + min(600, ahead / est.throughput_per_s)

    run = simulate(BURST, rate=250, rule=ahead_rule)
    assert len(run.republished) > 1000


def test_a_draining_backlog_is_not_published_again() -> None:
    run = simulate(BURST, rate=250, rule=overtaken(grace=3, max_wait=600))
    assert len(run.finished_at) == len(BURST)
    assert run.republished == []


def test_lost_messages_in_a_draining_backlog_come_back_once() -> None:
    lost = set(range(2000, 2050)) | {5999}
    run = simulate(BURST, rate=250, rule=overtaken(grace=3, max_wait=600), lost=lost)
    assert len(run.finished_at) == len(BURST)
    assert sorted(i for i, _, _ in run.republished) == sorted(lost)
    # Each came back soon after later rows overtook it: within grace + the queue wait
    # (~14 s) + a pass or two of when the queue passed its place.
    passed = {i: run.finished_at[i + 50] for i in range(2000, 2050) if i + 50 not in lost}
    for i, t, _ in run.republished:
        if i in passed:
            assert t - passed[i] <= 3 + 15 + 1.0


def test_a_backlog_waiting_longer_than_the_cap_is_published_again() -> None:
    # 60 s of queue wait against a cap of 20 s: rows older than grace + cap come back. Past
    # the cap the estimate degrades (the rows finishing were published again, so they look
    # fresh), but never below the plain grace of the old rule.
    slow = [i / 100 for i in range(6000)]
    run = simulate(slow, rate=50, rule=overtaken(grace=3, max_wait=20), until=200)
    first = min(t for _, t, _ in run.republished)
    assert all(age > 23 for _, t, age in run.republished if t == first)
    assert all(age > 3 for _, _, age in run.republished)


def test_workers_that_come_back_after_an_outage_find_few_duplicates() -> None:
    # Nothing is consumed from 5 s to 35 s: meanwhile the rows come back every grace, as
    # before (the database cannot tell dead workers from a broker that lost everything).
    outage = (5.0, 35.0)
    new = simulate(BURST, rate=250, rule=overtaken(grace=3, max_wait=600), outage=outage)
    old = simulate(BURST, rate=250, rule=overtaken(grace=3, max_wait=0), outage=outage)
    assert len(new.finished_at) == len(old.finished_at) == len(BURST)
    after = [t for _, t, _ in new.republished if t >= outage[1]]
    assert len(after) < len([t for _, t, _ in old.republished if t >= outage[1]]) / 3
