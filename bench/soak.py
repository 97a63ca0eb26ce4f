"""Soak: a steady stream of signed webhooks for N minutes; memory and connections over time.

Starts the production shape on Postgres + Redis (uvicorn with `--web-workers`, `billing
worker`, `billing sweeper`), posts unique ~4 KB events at `--rate` for `--minutes`, and
samples every `--every` seconds: the resident memory (RSS) of the web processes and of the
worker processes (each summed over the process and its children), and the connections
open to the bench database (pg_stat_activity). Prints start / end / peak of each; flat
means no leak. Issue 14's target: 20 minutes at 300 events/s, RSS flat, connections flat.

    python -m bench.soak --minutes 20 --rate 300
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.common import (
    bench_environment,
    machine,
    namespace_arguments,
    open_namespace,
    run_loadgen,
    start_uvicorn,
    status_mb,
    with_children,
)
from bench.pipeline import start_service


def tree_rss_mb(pid: int) -> float:
    """Current RSS (VmRSS) of a process plus its children, in MB."""
    return sum(status_mb(p, "VmRSS") for p in with_children(pid))


def _wait_for_children(pid: int, timeout: float) -> None:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if children.exists() and children.read_text().split():
            time.sleep(2)  # let each child finish importing
            return
        time.sleep(0.2)


def summary(name: str, values: list[float], unit: str) -> str:
    return (
        f"{name}: start {values[0]:.0f} {unit}, end {values[-1]:.0f} {unit}, "
        f"peak {max(values):.0f} {unit}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--rate", type=float, default=300, help="events/s")
    parser.add_argument("--every", type=float, default=10, help="seconds between samples")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--web-workers", type=int, default=1)
    parser.add_argument("--worker-pool", default="prefork", help="billing worker --pool")
    namespace_arguments(parser)
    args = parser.parse_args()

    namespace = open_namespace(args)
    env = bench_environment(namespace, log_level="WARNING")
    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    web, port = start_uvicorn("ingest.app:app", env, work / "web.log", args.web_workers)
    worker = start_service(
        args, env, work, "worker", "worker", f"--pool={args.worker_pool}", "--loglevel=WARNING"
    )
    sweeper = start_service(args, env, work, "sweeper", "sweeper")
    database = make_url(args.database_url).database
    engine = create_engine(args.database_url, pool_size=1)
    result: dict[str, Any] = {}

    def load() -> None:
        result.update(
            run_loadgen(
                port,
                *("--connections", str(args.connections)),
                *("--duration", str(args.minutes * 60), "--rate", str(args.rate)),
                *("--run-id", "soak"),
            )
        )

    samples: list[tuple[float, float, float, int]] = []
    try:
        # The first sample once the worker's pool has started.
        if args.worker_pool == "prefork":
            _wait_for_children(worker.pid, 60)
        else:
            time.sleep(5)
        loader = threading.Thread(target=load, daemon=True)
        started = time.monotonic()
        loader.start()
        while True:
            with engine.connect() as conn:
                # Minus this sampler's own connection.
                open_conns = (
                    conn.execute(
                        text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d"),
                        {"d": database},
                    ).scalar_one()
                    - 1
                )
            samples.append(
                (
                    time.monotonic() - started,
                    tree_rss_mb(web.pid),
                    tree_rss_mb(worker.pid),
                    open_conns,
                )
            )
            t, w, k, c = samples[-1]
            print(f"{t:7.0f} s  web {w:6.0f} MB  worker {k:6.0f} MB  connections {c}", flush=True)
            if not loader.is_alive():
                break
            loader.join(args.every)
        with engine.connect() as conn:
            statuses: dict[str, int] = dict(
                conn.execute(
                    text("SELECT status, count(*) FROM stripe_events GROUP BY status")
                ).all()
            )
    finally:
        for proc in (web, worker, sweeper):
            proc.terminate()
        for proc in (web, worker, sweeper):
            proc.wait(30)
        engine.dispose()
        namespace.clear_broker()

    acked = len(result.get("acked_ids", ()))
    print(
        f"soak ({machine()}; {args.minutes:g} min at {args.rate:.0f}/s, "
        f"{args.web_workers} web worker(s), default worker): acked {acked:,} "
        f"({result.get('rate', 0):,.0f}/s, p99 {result.get('p99_ms', 0):.0f} ms, errors "
        f"{sum(result.get('errors', {}).values())}); events by status {statuses}"
    )
    print("soak: " + summary("web RSS", [s[1] for s in samples], "MB"))
    print("soak: " + summary("worker RSS", [s[2] for s in samples], "MB"))
    print("soak: " + summary("open Postgres connections", [float(s[3]) for s in samples], ""))


if __name__ == "__main__":
    main()
