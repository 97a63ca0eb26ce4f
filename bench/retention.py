"""Retention benchmark: what a stored event costs on disk, and what pruning it costs.

N events with realistic bodies (Stripe's example invoice, subscription, checkout session
and refunded charge objects, 3.3-4.3 KB) are stored spread over 100 days of receive dates,
all `processed`. Then:

1. bytes per stored event: `pg_total_relation_size('stripe_events')` (heap + TOAST +
   every index) / N, after VACUUM ANALYZE;
2. `billing prune`'s batched DELETE (the production code path) over the oldest part of the
   log, once with ARCHIVE_DIR (archive bytes per event measured) and once without:
   events/s, the longest batch (how long its row locks are held) and the WAL written;
3. the alternative the issue suggests, time partitioning: 10 days of the same rows copied
   into one partition of a partitioned copy of the table, then the partition dropped;
4. what 1 M events/day costs in disk after 90 days, with and without archival.

    python -m bench.retention --events 200000
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, create_engine, insert, text

from bench.common import machine, namespace_arguments, open_namespace, reset_database
from domain.event_log import EVENTS
from domain.samples import build_event, new_id
from workers import prune as prune_module
from workers.prune import PruneConfig, prune

TYPES = (
    "invoice.paid",
    "customer.subscription.updated",
    "checkout.session.completed",
    "charge.refunded",
)
DAYS = 100
START = datetime(2026, 6, 1, tzinfo=UTC)
console = Console(width=110)  # wide enough that no table row wraps


_ID = re.compile(r"^([a-z]+)_[A-Za-z0-9]{8,}$")


def varied(value: Any, rng: random.Random) -> Any:
    """The example object with fresh ids and amounts/timestamps, as real events differ."""
    if isinstance(value, dict):
        return {k: varied(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [varied(v, rng) for v in value]
    if isinstance(value, str):
        match = _ID.match(value)
        return new_id(match.group(1)) if match else value
    if isinstance(value, int) and not isinstance(value, bool) and value > 100:
        return rng.randrange(value // 2, value * 2)
    return value


def seed(engine: Engine, n: int, batch: int = 2000) -> int:
    """Store n processed events spread over DAYS days; return the total raw body bytes."""
    templates = {t: build_event(t) for t in TYPES}
    rng = random.Random(14)
    per_second = n / (DAYS * 86400)
    body_bytes = 0
    rows: list[dict[str, Any]] = []
    for i in range(n):
        event_type = TYPES[i % len(TYPES)]
        event = varied(templates[event_type], rng)
        received = START + timedelta(seconds=i / per_second)
        event["id"] = new_id("evt")
        event["created"] = int(received.timestamp()) - 1
        event["data"]["object"]["id"] = new_id("obj")
        raw = orjson.dumps(event).decode()
        body_bytes += len(raw)
        rows.append(
            {
                "event_id": event["id"],
                "type": event_type,
                "api_version": event.get("api_version"),
                "livemode": False,
                "object_type": event["data"]["object"].get("object"),
                "object_id": event["data"]["object"]["id"],
                "event_created": event["created"],
                "raw_body": raw,
                "source": "webhook",
                "received_at": received,
                "status": "processed",
                "attempts": 1,
                "processed_at": received,
            }
        )
        if len(rows) == batch:
            with engine.begin() as conn:
                conn.execute(insert(EVENTS), rows)
            rows = []
    if rows:
        with engine.begin() as conn:
            conn.execute(insert(EVENTS), rows)
    return body_bytes


def sizes(engine: Engine) -> dict[str, int]:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE stripe_events"))
        row = conn.execute(
            text("""
            SELECT pg_total_relation_size('stripe_events'),
                   pg_relation_size('stripe_events'),
                   pg_indexes_size('stripe_events'),
                   count(*) FROM stripe_events
            """)
        ).one()
    total, heap, indexes, count = (int(v) for v in row)
    return {
        "total": total,
        "heap": heap,
        "toast": total - heap - indexes,
        "indexes": indexes,
        "events": count,
    }


def wal_lsn(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")).scalar_one()
        )


def timed_prune(engine: Engine, config: PruneConfig, now: datetime) -> dict[str, float]:
    """Run the production prune, timing each batch transaction; WAL written too."""
    durations: list[float] = []
    real = prune_module._one_batch

    def timing(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return real(*args)
        finally:
            durations.append(time.perf_counter() - started)

    prune_module._one_batch = timing  # type: ignore[assignment]
    wal_before = wal_lsn(engine)
    try:
        result = prune(engine, config, now=now)
    finally:
        prune_module._one_batch = real
    wal = wal_lsn(engine) - wal_before
    n = result.deleted.total
    full = durations[:-1] or durations  # the last call finds nothing
    return {
        "events": n,
        "seconds": result.seconds,
        "per_s": n / result.seconds if result.seconds else 0.0,
        "batch_p50": statistics.median(full) if full else 0.0,
        "batch_max": max(full) if full else 0.0,
        "wal_per_event": wal / n if n else 0.0,
    }


def partition_drop(engine: Engine, day_start: datetime, day_end: datetime) -> dict[str, float]:
    """Copy one range of rows into a daily partition of a partitioned copy; time its DROP."""
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_events_partitioned"))
        conn.execute(
            text(
                "CREATE TABLE bench_events_partitioned (LIKE stripe_events INCLUDING DEFAULTS)"
                " PARTITION BY RANGE (received_at)"
            )
        )
        conn.execute(  # DDL takes no bound parameters: ISO literals of our own datetimes
            text(
                "CREATE TABLE bench_events_day PARTITION OF bench_events_partitioned"
                f" FOR VALUES FROM ('{day_start.isoformat()}') TO ('{day_end.isoformat()}')"
            )
        )
        conn.execute(
            text("CREATE INDEX ON bench_events_partitioned (received_at)"),
        )
        conn.execute(
            text("CREATE INDEX ON bench_events_partitioned (type, received_at)"),
        )
        # Unique indexes on a partitioned table must contain the partition key:
        conn.execute(
            text("CREATE UNIQUE INDEX ON bench_events_partitioned (event_id, received_at)")
        )
        moved = conn.execute(
            text(
                "INSERT INTO bench_events_partitioned SELECT * FROM stripe_events"
                " WHERE received_at >= :a AND received_at < :b"
            ),
            {"a": day_start, "b": day_end},
        ).rowcount
    wal_before = wal_lsn(engine)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '5s'"))
        conn.execute(text("ALTER TABLE bench_events_partitioned DETACH PARTITION bench_events_day"))
        conn.execute(text("DROP TABLE bench_events_day"))
    seconds = time.perf_counter() - started
    wal = wal_lsn(engine) - wal_before
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_events_partitioned"))
    return {"events": float(moved), "seconds": seconds, "wal": float(wal)}


def gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    namespace_arguments(parser, broker=False)
    args = parser.parse_args()
    open_namespace(args)
    n = args.events
    reset_database(args.database_url)
    engine = create_engine(args.database_url, pool_size=2)

    started = time.perf_counter()
    body_bytes = seed(engine, n)
    seed_s = time.perf_counter() - started
    size = sizes(engine)
    per_event = size["total"] / n
    console.print(
        f"retention ({machine()}): stored {n:,} events in {seed_s:.1f} s, "
        f"mean body {body_bytes / n:,.0f} B"
    )

    # Prune the oldest 25 days with an archive, the next 25 without (retention 90 days:
    # `now` is chosen so the horizon falls where wanted).
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as tmp:
        archive = Path(tmp)
        now_a = START + timedelta(days=25 + 90)
        with_archive = timed_prune(engine, PruneConfig(90, archive, 5000), now_a)
        archive_bytes = sum(p.stat().st_size for p in archive.iterdir())
        archive_files = len(list(archive.iterdir()))
    now_b = START + timedelta(days=50 + 90)
    without = timed_prune(engine, PruneConfig(90, None, 5000), now_b)
    gz_per_event = archive_bytes / with_archive["events"] if with_archive["events"] else 0.0

    day_start = START + timedelta(days=50)
    dropped = partition_drop(engine, day_start, day_start + timedelta(days=10))

    t = Table(
        title=f"bytes per stored event ({n:,} events, realistic bodies)", title_justify="left"
    )
    for column in ("part", "bytes", "per event"):
        t.add_column(column, justify="right" if column != "part" else "left")
    for part in ("heap", "toast", "indexes", "total"):
        t.add_row(part, f"{size[part]:,}", f"{size[part] / n:,.0f}")
    t.add_row("raw body (mean)", "", f"{body_bytes / n:,.0f}")
    t.add_row("archive gzip", f"{archive_bytes:,}", f"{gz_per_event:,.0f}")
    console.print(t)

    p = Table(title="deleting old events", title_justify="left")
    for column in ("how", "events", "events/s", "batch p50 s", "batch max s", "WAL B/event"):
        p.add_column(column, justify="right" if column != "how" else "left")
    for label, r in (("batched DELETE + archive", with_archive), ("batched DELETE", without)):
        p.add_row(
            label,
            f"{r['events']:,.0f}",
            f"{r['per_s']:,.0f}",
            f"{r['batch_p50']:.3f}",
            f"{r['batch_max']:.3f}",
            f"{r['wal_per_event']:,.0f}",
        )
    p.add_row(
        "DETACH + DROP partition",
        f"{dropped['events']:,.0f}",
        f"{dropped['events'] / dropped['seconds']:,.0f}",
        f"{dropped['seconds']:.3f}",
        f"{dropped['seconds']:.3f}",
        f"{dropped['wal'] / dropped['events']:,.1f}" if dropped["events"] else "-",
    )
    console.print(p)

    day = 1_000_000
    pg_day, gz_day = day * per_event, day * gz_per_event
    c = Table(title="1 M events/day: disk after 90 days, and growth after", title_justify="left")
    for column in ("setup", "Postgres", "archive", "growth per day after"):
        c.add_column(column, justify="left" if column == "setup" else "right")
    c.add_row("no pruning (before retention)", gb(90 * pg_day), "-", f"+{gb(pg_day)} Postgres")
    c.add_row("RETENTION_DAYS=90, no ARCHIVE_DIR", gb(90 * pg_day), "-", "0 (steady state)")
    c.add_row("RETENTION_DAYS=90 + ARCHIVE_DIR", gb(90 * pg_day), "0", f"+{gb(gz_day)} archive")
    c.add_row(
        "RETENTION_DAYS=35 + ARCHIVE_DIR",
        gb(35 * pg_day),
        gb(55 * gz_day),
        f"+{gb(gz_day)} archive",
    )
    console.print(c)
    prune_per_day = day / without["per_s"] if without["per_s"] else 0.0
    console.print(
        f"retention: {per_event:,.0f} B/event in Postgres, {gz_per_event:,.0f} B/event archived "
        f"({archive_files} day files); prune {without['per_s']:,.0f} ev/s "
        f"({with_archive['per_s']:,.0f} with archive), longest batch "
        f"{max(without['batch_max'], with_archive['batch_max']):.2f} s; 1 M/day takes "
        f"{prune_per_day / 60:.1f} min/day of pruning; a partition drop took "
        f"{dropped['seconds'] * 1000:.0f} ms for {dropped['events']:,.0f} events"
    )
    engine.dispose()


if __name__ == "__main__":
    main()
