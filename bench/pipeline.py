"""Pipeline benchmark: signed webhooks in, real Celery workers, billing mirror out.

Starts the production shape on Postgres + Redis (uvicorn, `billing worker`, `billing sweeper`)
and sends full subscription lifecycles (checkout, subscription, invoices, payment methods,
customers; 17 events each, interleaved across customers) through the real endpoint:

1. backlog: events stored while no worker runs; then the workers start and drain it alone
   (processing capacity);
2. burst: N events posted as fast as ingest accepts them while the workers run (end to end);
3. steady: fresh events at a fixed rate (latency received -> processed).

Timings come from the database (`received_at`, `processed_at`).

    python -m bench.pipeline --events 20000 --rate 300 --rate-seconds 20

`--embedded` measures `billing dev` instead (SQLite database and broker; bench/embedded.py):

    python -m bench.pipeline --embedded --events 3400 --before-events 340
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

from bench import embedded
from bench.common import (
    ROOT,
    bench_environment,
    machine,
    namespace_arguments,
    open_namespace,
    peak_rss_mb,
    postgres_cpu_seconds,
    run_loadgen,
    start_uvicorn,
    tree_cpu_seconds,
)

TOKENS = ("acct_life", "cus_life", "sub_life", "pm_life", "cs_life", '"in_1"', '"in_2"', "evt_life")


def lifecycles(customers: int, tag: str) -> list[dict[str, Any]]:
    """`customers` lifecycles with their own ids, interleaved the way a busy day arrives."""
    from domain.mirror.stripe_json import ApiShape
    from tests.mirror.lifecycle import lifecycle

    template = orjson.dumps(lifecycle(ApiShape.CURRENT)).decode()
    per_customer = []
    for n in range(customers):
        doc = template
        for token in TOKENS:
            suffix = f"{tag}{n}"
            doc = doc.replace(
                token, token[:-1] + f'_{suffix}"' if token.endswith('"') else f"{token}_{suffix}"
            )
        per_customer.append(orjson.loads(doc))
    # Round-robin: event k of every customer, then event k+1, ... (events of one customer
    # stay in order but are spread out, as on a renewal day).
    return [events[k] for k in range(len(per_customer[0])) for events in per_customer]


def post(
    port: int, bodies: list[dict[str, Any]], rate: float, connections: int, workdir: Path
) -> dict[str, Any]:
    path = workdir / f"bodies-{time.monotonic_ns()}.json"
    path.write_bytes(orjson.dumps(bodies))
    result = run_loadgen(
        port,
        *("--connections", str(connections), "--duration", "3600"),
        *("--rate", str(rate), "--bodies", str(path)),
    )
    result.pop("acked_ids")
    return result


def wait_drained(db_url: str, ids_like: str, total: int, timeout: float) -> float:
    engine = create_engine(db_url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                done = conn.execute(
                    text(
                        "SELECT count(*) FROM stripe_events WHERE event_id LIKE :p "
                        "AND status IN ('processed', 'ignored', 'dead')"
                    ),
                    {"p": ids_like},
                ).scalar_one()
            if done >= total:
                return time.monotonic()
            time.sleep(0.2)
    finally:
        engine.dispose()
    raise TimeoutError(f"only {done} of {total} events finished in {timeout:.0f} s")


def timings(db_url: str, ids_like: str) -> dict[str, float]:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        row = (
            conn.execute(
                text("""
            SELECT count(*) AS n,
                   count(*) FILTER (WHERE status = 'processed') AS processed,
                   count(*) FILTER (WHERE status = 'dead') AS dead,
                   extract(epoch FROM max(processed_at) - min(received_at)) AS span,
                   extract(epoch FROM max(processed_at) - min(processed_at)) AS processing,
                   extract(epoch FROM max(received_at) - min(received_at)) AS ingest_span,
                   extract(epoch FROM max(processed_at) - max(received_at)) AS drain,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM
                       processed_at - received_at)) AS p50,
                   percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM
                       processed_at - received_at)) AS p99
            FROM stripe_events WHERE event_id LIKE :p"""),
                {"p": ids_like},
            )
            .mappings()
            .one()
        )
    engine.dispose()
    return {k: float(v or 0) for k, v in row.items()}


def start_service(
    args: argparse.Namespace, env: dict[str, str], work: Path, name: str, *command: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "workers.cli", *command],
        env=env,
        cwd=ROOT,
        stdout=(work / f"{name}.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument(
        "--backlog", type=int, default=10000, help="events stored before the workers start"
    )
    parser.add_argument("--rate", type=float, default=300, help="fixed-rate phase, events/s")
    parser.add_argument("--rate-seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument(
        "--worker-concurrency",
        type=int,
        default=0,
        help="worker processes (default: billing worker's, one per core)",
    )
    parser.add_argument("--worker-pool", default="prefork", help="prefork or threads")
    namespace_arguments(parser)
    parser.add_argument(
        "--embedded", action="store_true", help="measure `billing dev` (bench/embedded.py)"
    )
    parser.add_argument(
        "--before",
        default=embedded.BEFORE_REF,
        help="--embedded: the commit to compare with in the same run ('' for none)",
    )
    parser.add_argument("--before-events", type=int, default=340, help="--embedded: its burst")
    parser.add_argument("--timeout", type=float, default=600, help="--embedded: drain timeout")
    args = parser.parse_args()
    if args.embedded:
        embedded.main(args)
        return

    namespace = open_namespace(args)
    env = bench_environment(namespace, log_level="WARNING")
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    per_life = len(lifecycles(1, "probe"))
    backlog = lifecycles(max(1, args.backlog // per_life), "q")
    burst = lifecycles(max(1, args.events // per_life), "b")
    steady = lifecycles(max(1, int(args.rate * args.rate_seconds) // per_life), "s")

    web, port = start_uvicorn("ingest.app:app", env, work / "web.log", args.web_workers)
    sweeper = start_service(args, env, work, "sweeper", "sweeper")
    worker = None
    try:
        # Phase 1, workers alone: a backlog is stored (and queued) while no worker runs.
        post(port, backlog, 0, args.connections, work)
        worker = start_service(
            args,
            env,
            work,
            "worker",
            "worker",
            *([f"--concurrency={args.worker_concurrency}"] if args.worker_concurrency else []),
            f"--pool={args.worker_pool}",
            "--loglevel=WARNING",
        )
        started = cpu_by_role(web.pid, worker.pid)
        wait_drained(args.database_url, "evt_life_q%", len(backlog), 600)
        backlog_cpu = {k: v - started[k] for k, v in cpu_by_role(web.pid, worker.pid).items()}
        drained = timings(args.database_url, "evt_life_q%")  # from the first processed on
        # Phase 2, end to end: ingest and workers share the machine.
        before = cpu_by_role(web.pid, worker.pid)
        ingest = post(port, burst, 0, args.connections, work)
        wait_drained(args.database_url, "evt_life_b%", len(burst), 600)
        burst_cpu = {k: v - before[k] for k, v in cpu_by_role(web.pid, worker.pid).items()}
        burst_t = timings(args.database_url, "evt_life_b%")
        # Phase 3: a steady stream, for latency.
        fixed = post(port, steady, args.rate, args.connections, work)
        wait_drained(args.database_url, "evt_life_s%", len(steady), 600)
        steady_t = timings(args.database_url, "evt_life_s%")
        rss_web = peak_rss_mb(web.pid)
        rss_worker = peak_rss_mb(worker.pid)
    finally:
        procs = [p for p in (web, worker, sweeper) if p is not None]
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
    namespace.clear_broker()

    from workers.cli import default_concurrency

    processing_rate = burst_t["n"] / max(burst_t["span"], 1e-9)
    table = Table(
        title=f"pipeline ({machine()}; worker pool {args.worker_pool} x "
        f"{args.worker_concurrency or default_concurrency()}, {args.web_workers} web)"
    )
    for col in (
        "phase",
        "events",
        "ingest ev/s",
        "processed ev/s",
        "drain s",
        "p50 s",
        "p99 s",
        "dead",
    ):
        table.add_column(col, justify="right")
    drain_rate = drained["n"] / max(drained["processing"], 1e-9)
    table.add_row(
        "backlog (workers alone)",
        f"{int(drained['n']):,}",
        "-",
        f"{drain_rate:,.0f}",
        f"{drained['processing']:.1f}",
        "-",
        "-",
        "-",
    )
    table.add_row(
        "burst (end to end)",
        f"{int(burst_t['n']):,}",
        f"{ingest['rate']:,.0f}",
        f"{processing_rate:,.0f}",
        f"{burst_t['drain']:.1f}",
        f"{burst_t['p50']:.2f}",
        f"{burst_t['p99']:.2f}",
        f"{int(burst_t['dead'])}",
    )
    table.add_row(
        f"steady {args.rate:.0f}/s",
        f"{int(steady_t['n']):,}",
        f"{fixed['rate']:,.0f}",
        f"{steady_t['n'] / max(steady_t['span'], 1e-9):,.0f}",
        f"{steady_t['drain']:.1f}",
        f"{steady_t['p50']:.2f}",
        f"{steady_t['p99']:.2f}",
        f"{int(steady_t['dead'])}",
    )
    Console(width=150).print(table)
    print(
        f"pipeline: {processing_rate:,.0f} ev/s processed end to end "
        f"({int(burst_t['n']):,} events, ingest {ingest['rate']:,.0f} ev/s), "
        f"workers alone {drain_rate:,.0f} ev/s, "
        f"p99 received->processed at {args.rate:.0f}/s {steady_t['p99']:.2f} s, "
        f"dead {int(burst_t['dead'] + steady_t['dead'])}, web RSS {rss_web:.0f} MB, "
        f"worker RSS {rss_worker:.0f} MB"
    )
    for phase, cpu, n in (
        ("backlog", backlog_cpu, drained["n"]),
        ("burst", burst_cpu, burst_t["n"]),
    ):
        print(
            f"pipeline: CPU per event, {phase}: "
            + ", ".join(f"{role} {secs * 1e3 / n:.2f} ms" for role, secs in cpu.items())
            + f", total {sum(cpu.values()) * 1e3 / n:.2f} ms on {os.cpu_count()} cores"
        )


def cpu_by_role(web_pid: int, worker_pid: int) -> dict[str, float]:
    """CPU seconds so far of the web processes, the worker processes and Postgres."""
    return {
        "web": tree_cpu_seconds(web_pid),
        "worker": tree_cpu_seconds(worker_pid),
        "postgres": postgres_cpu_seconds(),
    }


if __name__ == "__main__":
    main()
