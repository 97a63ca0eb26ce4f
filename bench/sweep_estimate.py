"""What the sweeper's queue estimate costs, with and without ix_stripe_events_processed_at.

A scratch database gets N finished events (processed over the last hour) and a `queued`
backlog of Q events published over the last 30 s (waiting, none lost). Then, median of
`--repeat` runs each:

1. the estimate's two statements (latest finished events, backlog count) and a whole
   `sweep()` pass (rolled back), with the index and after dropping it;
2. what the index costs the worker: marking R queued rows processed in batches of 50 (the
   finish statement of a message), with and without the index, alternated.

    python -m bench.sweep_estimate --finished 1000000 --queued 100000
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Connection, bindparam, create_engine, text, update

from bench.common import machine, namespace_arguments, open_namespace, reset_database
from domain.event_log import EVENTS
from domain.models import EventStatus
from domain.retry import RetryPolicy
from domain.sweep import BACKLOG_COUNT_LIMIT, queue_estimate, sweep
from domain.types import utcnow

INDEX = "ix_stripe_events_processed_at"
FILL = """
INSERT INTO stripe_events (event_id, type, livemode, event_created, raw_body, source, received_at,
    status, attempts, published_at, processed_at)
SELECT 'evt_' || CAST(:tag AS text) || '_' || g, 'invoice.paid', false, 0, repeat('x', 2000),
    'webhook', t - interval '2 seconds', CAST(:status AS varchar), 0, t - interval '1 second',
    CASE WHEN CAST(:status AS varchar) = 'processed' THEN t END
FROM generate_series(1, CAST(:n AS int)) AS g,
    LATERAL (SELECT CAST(:now AS timestamptz)
        - make_interval(secs => CAST(:span AS float) * (1 - g::float / CAST(:n AS int))) AS t) s
"""


def _median_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _rolled_back(conn: Connection, work: Callable[[Connection], object]) -> Callable[[], object]:
    def run() -> object:
        tx = conn.begin()
        try:
            return work(conn)
        finally:
            tx.rollback()

    return run


def _queries(conn: Connection, repeat: int) -> dict[str, float]:
    policy = RetryPolicy(5, 3600, 8)
    grace, wait = timedelta(seconds=60), timedelta(seconds=600)
    count = text(
        "SELECT count(*) FROM (SELECT 1 FROM stripe_events WHERE status = 'queued'"
        f" LIMIT {BACKLOG_COUNT_LIMIT}) q"
    )
    return {
        "backlog count alone": _median_ms(_rolled_back(conn, lambda c: c.execute(count)), repeat),
        "estimate (2 statements)": _median_ms(
            _rolled_back(conn, lambda c: queue_estimate(c, utcnow())), repeat
        ),
        "sweep() pass": _median_ms(
            _rolled_back(conn, lambda c: sweep(c, utcnow(), grace, policy, 500, max_wait=wait)),
            repeat,
        ),
    }


def _finish_cost(conn: Connection, rows: int) -> float:
    """Seconds to mark `rows` queued rows processed, 50 a statement (rolled back)."""
    tx = conn.begin()
    ids = list(
        conn.execute(
            text("SELECT event_id FROM stripe_events WHERE status = 'queued' LIMIT :n"),
            {"n": rows},
        ).scalars()
    )
    stmt = (
        update(EVENTS)
        .where(EVENTS.c.event_id.in_(bindparam("ids", expanding=True)))
        .values(status=EventStatus.PROCESSED, processed_at=bindparam("now"))
    )
    started = time.perf_counter()
    for i in range(0, len(ids), 50):
        conn.execute(stmt, {"ids": ids[i : i + 50], "now": utcnow()})
    elapsed = time.perf_counter() - started
    tx.rollback()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--finished", type=int, default=1_000_000)
    parser.add_argument("--queued", type=int, default=100_000)
    parser.add_argument("--finish-rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=5, help="finish cost: alternations")
    namespace_arguments(parser, broker=False)
    args = parser.parse_args()
    open_namespace(args)
    print(machine())
    reset_database(args.database_url)
    admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
    engine = create_engine(args.database_url)
    now = utcnow()
    with admin.connect() as ddl, engine.connect() as conn:
        for tag, n, status, span in (
            ("f", args.finished, "processed", 3600),
            ("q", args.queued, "queued", 30),
        ):
            ddl.execute(
                text(FILL), {"tag": tag, "n": n, "status": status, "now": now, "span": span}
            )
        ddl.execute(text("VACUUM ANALYZE stripe_events"))
        print(f"{args.finished:,} finished, {args.queued:,} queued")
        with_index = _queries(conn, args.repeat)
        ddl.execute(text(f"DROP INDEX {INDEX}"))
        without = _queries(conn, args.repeat)
        for name in with_index:
            print(
                f"{name:26s} with index {with_index[name]:8.2f} ms"
                f"   without {without[name]:8.2f} ms"
            )
        costs: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.rounds):
            for indexed in (False, True):
                if indexed:
                    ddl.execute(
                        text(
                            f"CREATE INDEX {INDEX} ON stripe_events (processed_at)"
                            " WHERE processed_at IS NOT NULL"
                        )
                    )
                costs[indexed].append(_finish_cost(conn, args.finish_rows))
                if indexed:
                    ddl.execute(text(f"DROP INDEX {INDEX}"))
        for indexed in (False, True):
            label = "with index" if indexed else "without index"
            us = [c / args.finish_rows * 1e6 for c in costs[indexed]]
            print(
                f"finish {args.finish_rows:,} rows, 50 a statement, {label:13s}:"
                f" min {min(us):6.1f}  median {statistics.median(us):6.1f} us/row"
            )
    engine.dispose()
    admin.dispose()


if __name__ == "__main__":
    main()
