"""The sweeper on real Postgres with a deep `queued` backlog: waiting is not lost.

Times are simulated: rows get explicit publish/finish times and `sweep` an explicit `now`,
so a 30-second drain runs in a fraction of that.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Engine, bindparam, insert, update

from domain.event_log import EVENTS
from domain.models import EventStatus
from domain.retry import RetryPolicy
from domain.sweep import sweep
from domain.types import utcnow
from workers.runtime import Runtime
from workers.sweeper import sweep_once

POLICY = RetryPolicy(base_seconds=5, cap_seconds=3600, max_attempts=8)
GRACE = timedelta(seconds=2)
T0 = utcnow() - timedelta(hours=1)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def store_queued(db: Engine, published: list[float], base: datetime = T0) -> list[str]:
    """Queued rows published at `published` (seconds after `base`), received just before."""
    ids = [f"evt_q{i:06d}" for i in range(len(published))]
    rows: list[dict[str, Any]] = [
        {
            "event_id": event_id,
            "type": "test.recorded",
            "event_created": 0,
            "raw_body": "{}",
            "source": "webhook",
            "received_at": base + timedelta(seconds=p - 0.01),
            "status": EventStatus.QUEUED,
            "attempts": 0,
            "published_at": base + timedelta(seconds=p),
        }
        for event_id, p in zip(ids, published, strict=True)
    ]
    with db.begin() as conn:
        conn.execute(insert(EVENTS), rows)
    return ids


def finish(db: Engine, ids: list[str], finished: list[float]) -> None:
    """Mark rows processed at `finished` (seconds after T0), as a worker would."""
    stmt = (
        update(EVENTS)
        .where(EVENTS.c.event_id == bindparam("eid"))
        .values(status=EventStatus.PROCESSED, processed_at=bindparam("done"))
    )
    with db.begin() as conn:
        conn.execute(stmt, [{"eid": i, "done": at(t)} for i, t in zip(ids, finished, strict=True)])


def run_sweep(db: Engine, now: float, max_wait: float) -> list[str]:
    with db.begin() as conn:
        result = sweep(conn, at(now), GRACE, POLICY, 500, max_wait=timedelta(seconds=max_wait))
    return result.republish


# 3,000 events arrive over 10 s (300/s) and the workers take 100/s: the backlog needs 30 s
# to drain and the last events wait 20 s in the queue, against a grace of 2 s.
ARRIVALS = [i / 300 for i in range(3000)]
RATE = 100.0


def drain(db: Engine, max_wait: float) -> list[str]:
    """Sweep every 2 s while the backlog drains at RATE, FIFO; what each pass took back."""
    ids = store_queued(db, ARRIVALS)
    republished: list[str] = []
    done = 0
    for now in range(2, 32, 2):
        upto = min(len(ids), int(now * RATE))
        finish(db, ids[done:upto], [i / RATE for i in range(done, upto)])
        done = upto
        republished += run_sweep(db, now, max_wait)
    return republished


def test_a_backlog_draining_at_its_rate_is_not_published_again(db: Engine) -> None:
    assert drain(db, max_wait=600) == []


def test_the_plain_grace_would_publish_the_same_backlog_again(db: Engine) -> None:
    # SWEEPER_MAX_WAIT_SECONDS=0 is the rule before the estimate: the test above can fail.
    assert len(drain(db, max_wait=0)) > 500


def test_a_row_overtaken_by_later_ones_is_published_again(db: Engine) -> None:
    # The workers finish rows published at 9-10 s with a queue wait of 1 s; a row published
    # at 5 s is still queued: its message is gone, whatever the backlog behind it.
    ids = store_queued(db, [5.0, *[9 + i / 100 for i in range(100)], *[10.5] * 50])
    finish(db, ids[1:101], [10 + i / 100 for i in range(100)])
    with db.begin() as conn:
        result = sweep(conn, at(11.5), GRACE, POLICY, 500, max_wait=timedelta(seconds=600))
    assert result.republish == [ids[0]] and result.lost == 1  # 6.5 s old, lost after 3 s
    assert result.lost_after_s == 3.0 and result.estimate.wait_s == 1.0


def test_a_row_older_than_grace_plus_cap_is_published_again(db: Engine) -> None:
    # The queue wait is 1,000 s (past the cap of 600 s): a row published 700 s ago comes
    # back, one published 500 s ago is left waiting.
    ids = store_queued(db, [300.0, 500.0, *[i / 10 for i in range(100)]])
    finish(db, ids[2:], [1000 - 10 + i / 10 for i in range(100)])
    assert run_sweep(db, now=1000, max_wait=600) == [ids[0]]


def test_without_any_worker_rows_past_the_grace_come_back_as_before(db: Engine) -> None:
    # The workers last finished rows at 50 s, after a queue wait of 50 s; 300 rows published
    # at 60-63 s wait. While those finishes are within the window the rows are left alone;
    # once nothing finished for a whole window, the plain grace applies again.
    old = [i / 100 for i in range(10)]
    waiting = [60 + i / 100 for i in range(300)]
    ids = store_queued(db, [*old, *waiting, 110.0])
    finish(db, ids[:10], [50 + t for t in old])
    assert run_sweep(db, now=109, max_wait=600) == []
    assert sorted(run_sweep(db, now=111.2, max_wait=600)) == sorted(ids[10:310])


def test_each_pass_logs_the_estimate(runtime: Runtime, db: Engine) -> None:
    now = utcnow()  # one clock reading: the wait is exactly 1 s however slow the machine
    ids = store_queued(db, [-1.5, -0.6, -0.5], base=now)
    with db.begin() as conn:  # one finished 1 s after its publish
        conn.execute(
            update(EVENTS)
            .where(EVENTS.c.event_id == ids[0])
            .values(status=EventStatus.PROCESSED, processed_at=now - timedelta(seconds=0.5))
        )
    sent: list[Any] = []

    class Broker:
        def send_task(self, *args: Any, **_: Any) -> None:
            sent.append(args)

    with structlog.testing.capture_logs() as logs:
        sweep_once(runtime, Broker())  # type: ignore[arg-type]
    assert sent == []
    [line] = [e for e in logs if e["event"] == "sweeper.backlog"]
    assert line["backlog"] == 2
    assert line["throughput_per_s"] > 0 and line["wait_s"] == 1.0
    assert (
        line["drain_s"] > 0 and line["lost_after_s"] == runtime.settings.sweeper_grace_seconds + 1
    )
