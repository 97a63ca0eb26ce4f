"""`bench.pipeline --embedded`: `billing dev` (SQLite + kombu's SQLAlchemy transport), end to end.

Runs `billing dev` itself (web, worker and sweeper as it starts them) on a fresh data
directory and posts full subscription lifecycles through the real endpoint as fast as ingest
accepts them; timings come from the database (`received_at`, `processed_at`).

For a same-run ratio, the same burst is first sent to `billing dev` from another commit (by
default the one before the embedded default was tuned), extracted to a temporary directory
and run with this checkout's interpreter. The old behaviour processes ~14 events/s, so it
gets a smaller burst (`--before-events`).

    python -m bench.pipeline --embedded --events 3400 --before-events 340
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench.common import ROOT, SECRET, free_port, machine, peak_rss_mb

# The commit before the embedded default was tuned (one message per broker poll of 1 s).
BEFORE_REF = "c36a9a5"
DONE = ("processed", "ignored", "dead")


def checkout(ref: str, into: Path) -> Path:
    """The tree of `ref` extracted under `into` (no git worktree: nothing to clean up in git)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def start_dev(source: Path, data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`billing dev` from the tree at `source`; returns the process and its port once ready."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "BROKER_URL"}}
    env |= {
        "STRIPE_WEBHOOK_SECRETS": SECRET,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        "PYTHONPATH": str(source),
    }
    command = ("workers.cli", "dev", "--data-dir", str(data_dir), "--port", str(port))
    proc = subprocess.Popen(
        [sys.executable, "-m", *command],
        env=env,
        cwd=source,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"billing dev did not start; see {log}")


def _query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def wait_done(db: Path, ids_like: str, total: int, timeout: float) -> None:
    marks = ",".join("?" * len(DONE))
    sql = f"SELECT count(*) FROM stripe_events WHERE event_id LIKE ? AND status IN ({marks})"
    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline:
        done = _query(db, sql, ids_like, *DONE)[0][0]
        if done >= total:
            return
        time.sleep(0.25)
    raise TimeoutError(f"only {done} of {total} events finished in {timeout:.0f} s")


def timings(db: Path, ids_like: str) -> dict[str, float]:
    rows = _query(
        db,
        "SELECT received_at, processed_at, status FROM stripe_events WHERE event_id LIKE ?",
        ids_like,
    )
    received = [datetime.fromisoformat(r[0]) for r in rows]
    processed = [datetime.fromisoformat(r[1]) for r in rows if r[1]]
    latencies = sorted(
        (datetime.fromisoformat(r[1]) - datetime.fromisoformat(r[0])).total_seconds()
        for r in rows
        if r[1]
    )
    span = (max(processed) - min(received)).total_seconds()
    return {
        "n": len(rows),
        "dead": sum(1 for r in rows if r[2] == "dead"),
        "span": span,
        "drain": (max(processed) - max(received)).total_seconds(),
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "rate": len(rows) / max(span, 1e-9),
    }


def run_one(
    name: str, source: Path, customers: int, args: argparse.Namespace, work: Path
) -> dict[str, float]:
    from bench.pipeline import lifecycles, post

    data_dir = work / f"{name}-var"
    db = data_dir / "billing.db"
    dev, port = start_dev(source, data_dir, work / f"{name}.log")
    try:
        # Warm-up: the worker's pool process imports and connects on its first message.
        warm = lifecycles(1, "w")
        post(port, warm, 0, 1, work)
        wait_done(db, "evt_life_w%", len(warm), args.timeout)
        bodies = lifecycles(customers, name[0])
        ingest = post(port, bodies, 0, args.connections, work)
        wait_done(db, f"evt_life_{name[0]}%", len(bodies), args.timeout)
        rss = peak_rss_mb(dev.pid)
    finally:
        dev.terminate()
        dev.wait(30)
    result = timings(db, f"evt_life_{name[0]}%")
    result |= {"ingest": ingest["rate"], "rss": rss, "errors": sum(ingest["errors"].values())}
    return result


def main(args: argparse.Namespace) -> None:
    from bench.pipeline import lifecycles

    work = Path(tempfile.mkdtemp(prefix="bench-embedded-"))
    print(
        f"bench namespace: data directories under {work} (SQLite database and broker "
        "of the run's own)",
        flush=True,
    )
    per_life = len(lifecycles(1, "probe"))
    results: dict[str, dict[str, float]] = {}
    if args.before and args.before_events:
        source = checkout(args.before, work / "before-src")
        customers = max(1, args.before_events // per_life)
        results[f"before ({args.before})"] = run_one("before", source, customers, args, work)
    customers = max(1, args.events // per_life)
    results["this checkout"] = run_one("after", ROOT, customers, args, work)

    table = Table(title=f"embedded default, billing dev end to end ({machine()})")
    for col in ("run", "events", "ingest ev/s", "processed ev/s", "drain s", "p50 s", "p99 s"):
        table.add_column(col, justify="right")
    table.add_column("dead", justify="right")
    for name, r in results.items():
        table.add_row(
            name,
            f"{int(r['n']):,}",
            f"{r['ingest']:,.0f}",
            f"{r['rate']:,.0f}",
            f"{r['drain']:.1f}",
            f"{r['p50']:.2f}",
            f"{r['p99']:.2f}",
            f"{int(r['dead'])}",
        )
    Console(width=150).print(table)
    after = results["this checkout"]
    ratio = ""
    if len(results) == 2:
        before = next(iter(results.values()))
        ratio = f", {after['rate'] / max(before['rate'], 1e-9):.1f}x the run before"
    print(
        f"embedded: {after['rate']:,.0f} ev/s processed end to end ({int(after['n']):,} events, "
        f"ingest {after['ingest']:,.0f} ev/s){ratio}, p99 {after['p99']:.2f} s, "
        f"dead {int(after['dead'])}, billing dev RSS {after['rss']:.0f} MB, "
        f"load average {os.getloadavg()[0]:.1f} (logs in {work})"
    )
