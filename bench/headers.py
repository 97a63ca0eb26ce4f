"""Huge request headers against the app under each HTTP protocol, same run.

Parallel clients each send one request whose Stripe-Signature header is --size-mb long
(`t=...,v1=00,v1=00,...`), while a prober times `GET /healthz` every 50 ms. Per protocol:
what the clients got back (a status, or the connection closed while they were sending),
how long until then, the web process's RSS growth at its peak and after the requests ended,
and the worst /healthz latency meanwhile. Targets: uvicorn's stock httptools protocol,
h11 (its default 16 KiB bound), and `billing serve`'s header-limited httptools protocol.

Then the cost of the bound on an ordinary request: CPU time to parse a realistic webhook
request (headers and a 4 KB body) with each protocol, in this process, best of 5 alternating
rounds (the app is not run, so only the protocol differs).

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
from uvicorn.config import Config
from uvicorn.importer import import_from_string
from uvicorn.server import ServerState

from bench.common import (
    SERVE_HTTP,
    bench_environment,
    machine,
    namespace_arguments,
    open_namespace,
    start_uvicorn,
)

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


class _Transport:
    """Enough of an asyncio transport for a protocol to parse one request."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def is_closing(self) -> bool:
        return False

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


_REQUEST = (
    b"POST /webhooks/stripe HTTP/1.1\r\nHost: billing.example.com\r\n"
    b"User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
    b"Content-Type: application/json; charset=utf-8\r\nAccept: */*; q=0.5, application/xml\r\n"
    b"Cache-Control: no-cache\r\nAccept-Encoding: gzip\r\n"
    b"Stripe-Signature: t=1767225600,v1=" + b"ab" * 32 + b",v0=" + b"cd" * 32 + b"\r\n"
    b"Content-Length: 4096\r\n\r\n" + b"x" * 4096
)


def parse_cost_us(http: str, requests: int) -> float:
    """CPU microseconds to parse one request with `http` on a kept-alive connection."""
    import asyncio

    cls = import_from_string(http)

    class Quiet(cls):  # type: ignore[valid-type, misc]
        def _start_asgi_task(self, cycle: Any, app: Any) -> None:  # the app is not the subject
            pass

    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    config = Config(app=app, h11_max_incomplete_event_size=32 * 1024, lifespan="off")
    config.load()
    loop = asyncio.new_event_loop()
    state, transport = ServerState(), _Transport()
    try:
        protocol = Quiet(config, state, {}, _loop=loop)
        protocol.connection_made(transport)
        started = time.process_time()
        for _ in range(requests):  # one keep-alive connection, as Stripe's deliveries use
            protocol.data_received(_REQUEST)
            protocol.cycle.response_complete = True
            protocol.on_response_complete()
        return (time.process_time() - started) / requests * 1e6
    finally:
        protocol.connection_lost(None)
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=40)
    parser.add_argument("--parallel", type=int, default=8)
    namespace_arguments(parser)
    parser.add_argument("--parse-requests", type=int, default=20_000)
    args = parser.parse_args()
    namespace = open_namespace(args)

    costs: dict[str, list[float]] = {"httptools": [], SERVE_HTTP: []}
    for _ in range(5):
        for http in costs:
            costs[http].append(parse_cost_us(_protocol_path(http), args.parse_requests))

    env = bench_environment(namespace, log_level="WARNING")
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
    stock_us, ours_us = min(costs["httptools"]), min(costs[SERVE_HTTP])
    print(
        f"parse CPU per request (best of 5): stock httptools {stock_us:.1f} us, "
        f"ours {ours_us:.1f} us (+{ours_us - stock_us:.1f} us, ratio {ours_us / stock_us:.2f})"
    )
    ours, stock = results["ours (billing serve)"], results["stock httptools"]
    print(
        f"headers: ours peak +{ours['peak_mb']:.0f} MB vs stock httptools "
        f"+{stock['peak_mb']:.0f} MB; /healthz max {ours['healthz_max_ms']:.0f} vs "
        f"{stock['healthz_max_ms']:.0f} ms; slowest client {ours['slowest_s']:.2f} vs "
        f"{stock['slowest_s']:.2f} s"
    )


def _protocol_path(http: str) -> str:
    if ":" in http:
        return http
    return "uvicorn.protocols.http.httptools_impl:HttpToolsProtocol"


if __name__ == "__main__":
    main()
