"""Huge request headers against the app under each HTTP protocol, same run.

Parallel clients each send one request whose Stripe-Signature header is --size-mb long
(`t=...,v1=00,v1=00,...`), while a prober times `GET /healthz` every 50 ms. Per protocol:
what the clients got back (a status, or the connection closed while they were sending),
how long until then, the web process's RSS growth at its peak and after the requests ended,
and the worst /healthz latency meanwhile. Targets: uvicorn's stock httptools protocol,
h11 (its default 16 KiB bound), and `billing serve`'s header-limited httptools protocol.

    python -m bench.headers --size-mb 40 --parallel 8
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench.common import SERVE_HTTP, bench_environment, machine, start_uvicorn

TARGETS = {"stock httptools": "httptools", "h11": "h11", "ours (billing serve)": SERVE_HTTP}


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def huge_request(port: int, size: int, outcomes: list[tuple[str, float]]) -> None:
    started = time.monotonic()
    head = b"POST /webhooks/stripe HTTP/1.1\r\nHost: bench\r\nStripe-Signature: t=1"
    chunk = b",v1=00" * 10_000
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
            try:
                sock.sendall(head)
                for _ in range(size // len(chunk)):
                    sock.sendall(chunk)
                sock.sendall(b"\r\nContent-Length: 2\r\n\r\n{}")
            except OSError:
                outcomes.append(("closed while sending", time.monotonic() - started))
                return
            answer = sock.recv(64)
            status = answer.split(b" ", 2)[1].decode() if answer else "closed"
            outcomes.append((status, time.monotonic() - started))
    except OSError as exc:
        outcomes.append((type(exc).__name__, time.monotonic() - started))


def probe(port: int, stop: threading.Event, latencies: list[float]) -> None:
    with httpx.Client(timeout=30) as http:
        while not stop.is_set():
            started = time.monotonic()
            with contextlib.suppress(httpx.HTTPError):
                http.get(f"http://127.0.0.1:{port}/healthz")
            latencies.append(time.monotonic() - started)
            time.sleep(0.05)


def run(port: int, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    before = rss_mb(pid)
    outcomes: list[tuple[str, float]] = []
    latencies: list[float] = []
    stop = threading.Event()
    prober = threading.Thread(target=probe, args=(port, stop, latencies))
    prober.start()
    clients = [
        threading.Thread(target=huge_request, args=(port, args.size_mb * 1_000_000, outcomes))
        for _ in range(args.parallel)
    ]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    time.sleep(2)
    stop.set()
    prober.join()
    return {
        "outcomes": Counter(o for o, _ in outcomes),
        "slowest_s": max(t for _, t in outcomes),
        "peak_mb": rss_mb(pid, "VmHWM") - before,
        "after_mb": rss_mb(pid) - before,
        "healthz_max_ms": max(latencies) * 1000 if latencies else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=40)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--database-url", default="postgresql+psycopg://127.0.0.1/bench")
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()

    env = bench_environment(args.database_url, args.broker_url, log_level="WARNING")
    logs = Path(tempfile.mkdtemp(prefix="bench-headers-"))
    results: dict[str, dict[str, Any]] = {}
    for index, (name, http) in enumerate(TARGETS.items()):
        proc, port = start_uvicorn("ingest.app:app", env, logs / f"{index}.log", 1, http)
        try:
            results[name] = run(port, proc.pid, args)
        finally:
            proc.terminate()
            proc.wait(30)

    table = Table(
        title=f"headers ({machine()}; {args.parallel} clients x {args.size_mb} MB header)"
    )
    for col in ("protocol", "clients got", "slowest s", "RSS peak +MB", "RSS after +MB"):
        table.add_column(col, justify="left" if col in {"protocol", "clients got"} else "right")
    table.add_column("/healthz max ms", justify="right")
    for name, r in results.items():
        got = ", ".join(f"{n}x {o}" for o, n in sorted(r["outcomes"].items()))
        table.add_row(
            name,
            got,
            f"{r['slowest_s']:.2f}",
            f"{r['peak_mb']:.0f}",
            f"{r['after_mb']:.0f}",
            f"{r['healthz_max_ms']:.0f}",
        )
    Console(width=150).print(table)
    ours, stock = results["ours (billing serve)"], results["stock httptools"]
    print(
        f"headers: ours peak +{ours['peak_mb']:.0f} MB vs stock httptools "
        f"+{stock['peak_mb']:.0f} MB; /healthz max {ours['healthz_max_ms']:.0f} vs "
        f"{stock['healthz_max_ms']:.0f} ms; slowest client {ours['slowest_s']:.2f} vs "
        f"{stock['slowest_s']:.2f} s"
    )


if __name__ == "__main__":
    main()
