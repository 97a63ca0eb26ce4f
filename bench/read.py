"""The read API on the product's request path: `GET /v1/accounts/{ref}` (and `/credits`) at
--connections (default 32) on one web worker, with webhook ingest running beside it.

Seeds --customers full subscription lifecycles through the real processor (the mirror's
rows as production has them), then, in a closed loop over every account in turn:
`GET /healthz`, the baseline (bench/read_baseline_app.py: one hand-written SELECT per
request on warm connections, raw ASGI), ours `GET /v1/accounts/{ref}` and ours
`GET /v1/accounts/{ref}/credits`. During every phase a load generator posts signed webhooks
to our app at --ingest-rate (the worker is not running: events are stored and queued).

    python -m bench.read --duration 10
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from bench.common import (
    bench_environment,
    machine,
    namespace_arguments,
    open_namespace,
    run_loadgen,
    start_uvicorn,
)
from bench.http_load import LoadResult, http_request, run_load
from bench.pipeline import lifecycles

TOKEN = "bench-read-token-0123456789"


def seed(customers: int) -> list[str]:
    """Store and apply `customers` lifecycles; the account_refs the mirror now holds."""
    from domain.envelope import parse_envelope
    from domain.event_log import NewEvent, insert_events
    from domain.mirror.tables import BillingAccount
    from domain.types import utcnow
    from workers.processor import process_events
    from workers.runtime import get_runtime

    rt = get_runtime()
    events = lifecycles(customers, "r")
    raws = [orjson.dumps(e).decode() for e in events]
    with rt.sessions.begin() as session:
        insert_events(session, [NewEvent(parse_envelope(raw), raw) for raw in raws], utcnow())
    ids = [e["id"] for e in events]
    for start in range(0, len(ids), 50):
        process_events(rt, ids[start : start + 50])
    with rt.sessions() as session:
        refs = session.execute(select(BillingAccount.account_ref)).scalars()
        return sorted(r for r in refs if r)


class Ingest:
    """Signed webhooks posted to `port` at `rate` in the background (bench/loadgen.py)."""

    def __init__(self, port: int, rate: float, duration: float, workdir: Path, tag: str):
        bodies = workdir / f"ingest-{tag}.json"
        bodies.write_bytes(orjson.dumps(lifecycles(max(1, int(rate * duration) // 30), tag)))
        options = ("--rate", str(rate), "--duration", str(duration), "--connections", "8")
        self.result: dict[str, Any] = {}
        self._thread = threading.Thread(
            target=lambda: self.result.update(run_loadgen(port, *options, "--bodies", str(bodies)))
        )

    def __enter__(self) -> Ingest:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--ingest-rate", type=float, default=200)
    namespace_arguments(parser)
    args = parser.parse_args()
    env = bench_environment(open_namespace(args), "WARNING")
    env["API_TOKENS"] = f"bench:{TOKEN}:read+usage"
    os.environ.update(env)
    refs = seed(args.customers)
    if not refs:
        raise SystemExit("the seed produced no accounts")
    rows: list[tuple[str, LoadResult, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-read-") as tmp:
        workdir = Path(tmp)
        ours, port = start_uvicorn("ingest.app:app", env, workdir / "web.log")
        base, base_port = start_uvicorn(
            "bench.read_baseline_app:app", env, workdir / "baseline.log"
        )
        try:
            healthz = http_request("GET", "/healthz", TOKEN)

            def account(i: int) -> bytes:
                return http_request("GET", f"/v1/accounts/{refs[i % len(refs)]}", TOKEN)

            def credits(i: int) -> bytes:
                return http_request("GET", f"/v1/accounts/{refs[i % len(refs)]}/credits", TOKEN)

            run_load(port, account, duration=1, connections=4)  # warm both apps up
            run_load(base_port, account, duration=1, connections=4)
            phases = [
                ("GET /healthz (ours)", port, lambda i: healthz),
                ("baseline: one SELECT", base_port, account),
                ("GET /v1/accounts/{ref}", port, account),
                ("GET /v1/accounts/{ref}/credits", port, credits),
            ]
            for n, (name, target, request_of) in enumerate(phases):
                with Ingest(port, args.ingest_rate, args.duration, workdir, f"i{n}") as ingest:
                    result = run_load(
                        target,
                        request_of,  # type: ignore[arg-type]
                        duration=args.duration,
                        connections=args.connections,
                    )
                rows.append((name, result, float(ingest.result.get("rate", 0.0))))
        finally:
            for proc in (ours, base):
                proc.terminate()
                proc.wait(timeout=30)
    title = (
        f"read API, one web worker, {args.connections} connections, ingest at "
        f"{args.ingest_rate:g}/s beside ({machine()}; {args.duration:g} s per phase)"
    )
    table = Table(title=title)
    for col in ("route", "req/s", "p50 ms", "p99 ms", "max ms", "statuses", "ingest acks/s"):
        table.add_column(col, justify="left" if col == "route" else "right")
    for name, r, ingest_rate in rows:
        table.add_row(
            name,
            f"{r.rate:,.0f}",
            f"{r.pct(0.5):.2f}",
            f"{r.pct(0.99):.2f}",
            f"{r.latencies_ms[-1] if r.latencies_ms else 0:.1f}",
            " ".join(f"{s}:{c}" for s, c in sorted(r.statuses.items())),
            f"{ingest_rate:,.0f}",
        )
    console = Console(width=150)
    console.print(table)
    baseline, account_r, credits_r = rows[1][1], rows[2][1], rows[3][1]
    console.print(
        f"read: GET /v1/accounts/{{ref}} {account_r.rate:,.0f} req/s p99 "
        f"{account_r.pct(0.99):.2f} ms (target >= 3,000 req/s, p99 <= 20 ms); baseline "
        f"{baseline.rate:,.0f} req/s p99 {baseline.pct(0.99):.2f} ms; ours / baseline "
        f"{account_r.rate / max(baseline.rate, 1):.2f}; /credits {credits_r.rate:,.0f} req/s "
        f"p99 {credits_r.pct(0.99):.2f} ms; {len(refs)} accounts"
    )


if __name__ == "__main__":
    main()
