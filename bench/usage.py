"""`POST /v1/usage` with 1,000-record batches against one INSERT per record, same run.

Ours: --connections clients post batches of --batch records (unique ids) to the real app for
--duration seconds; a record counts when the 202 says it was accepted (it is committed by
then). Baseline: the same records inserted one INSERT + COMMIT each (the tutorial way), from
--connections threads, for the same duration. Afterwards the stored rows are counted
("durable": every accepted record is in the table).

    python -m bench.usage --duration 10
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, func, select, text

from bench.common import (
    bench_environment,
    machine,
    namespace_arguments,
    open_namespace,
    start_uvicorn,
)
from bench.http_load import http_request, run_load
from domain.usage.records import USAGE_RECORDS

TOKEN = "bench-usage-token-0123456789"


def batch_of(i: int, size: int, prefix: str) -> bytes:
    now = int(time.time())
    records = [
        {
            "id": f"{prefix}{i}_{n}",
            "account_ref": f"org_{n % 50}",
            "meter": "api_calls",
            "quantity": 1 + n % 7,
            "timestamp": now - n % 600,
        }
        for n in range(size)
    ]
    return orjson.dumps({"records": records})


def baseline(url: str, duration: float, threads: int) -> tuple[int, float]:
    """One INSERT + COMMIT per record, `threads` at a time."""
    engine = create_engine(url, pool_size=threads)
    stop = time.perf_counter() + duration
    counts = [0] * threads
    sql = text(
        "INSERT INTO usage_records (id, account_ref, meter, quantity, occurred_at, source,"
        " received_at, report_status) VALUES (:id, :a, 'api_calls', 1, now(), 'usage', now(),"
        " 'pending') ON CONFLICT (id) DO NOTHING"
    )

    def work(t: int) -> None:
        with engine.connect() as conn:
            n = 0
            while time.perf_counter() < stop:
                conn.execute(sql, {"id": f"base{t}_{n}", "a": f"org_{n % 50}"})
                conn.commit()
                n += 1
            counts[t] = n

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    engine.dispose()
    return sum(counts), elapsed


def stored(url: str, like: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = conn.execute(
            select(func.count()).select_from(USAGE_RECORDS).where(USAGE_RECORDS.c.id.like(like))
        ).scalar_one()
    engine.dispose()
    return int(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    namespace_arguments(parser)
    args = parser.parse_args()
    env = bench_environment(open_namespace(args), "WARNING")
    env["API_TOKENS"] = f"bench:{TOKEN}:usage+read"
    base_n, base_s = baseline(args.database_url, args.duration, args.connections)
    with tempfile.TemporaryDirectory(prefix="bench-usage-") as tmp:
        proc, port = start_uvicorn("ingest.app:app", env, Path(tmp) / "web.log", args.workers)
        try:
            result = run_load(
                port,
                lambda i: http_request("POST", "/v1/usage", TOKEN, batch_of(i, args.batch, "ours")),
                duration=args.duration,
                connections=args.connections,
            )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    accepted = result.statuses.get(202, 0) * args.batch
    durable = stored(args.database_url, "ours%")
    ours_rate = accepted / result.elapsed_s
    base_rate = base_n / base_s
    table = Table(title=f"usage ingest ({machine()}; {args.duration:g} s each)")
    for col in ("way", "records", "records/s", "p50 ms", "p99 ms", "stored"):
        table.add_column(col, justify="left" if col == "way" else "right")
    table.add_row(
        f"POST /v1/usage, {args.batch}/batch, {args.connections} conns",
        f"{accepted:,}",
        f"{ours_rate:,.0f}",
        f"{result.pct(0.5):.1f}",
        f"{result.pct(0.99):.1f}",
        f"{durable:,}",
    )
    table.add_row(
        f"baseline: one INSERT + COMMIT per record, {args.connections} threads",
        f"{base_n:,}",
        f"{base_rate:,.0f}",
        "",
        "",
        f"{stored(args.database_url, 'base%'):,}",
    )
    console = Console(width=130)
    console.print(table)
    console.print(
        f"usage: ours {ours_rate:,.0f} records/s, baseline {base_rate:,.0f} records/s, "
        f"ratio {ours_rate / base_rate:.1f}x, accepted {accepted:,}, stored {durable:,}, "
        f"statuses {dict(result.statuses)}, errors {result.errors}"
    )


if __name__ == "__main__":
    main()
