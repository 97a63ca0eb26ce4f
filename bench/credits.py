"""The credit gate (`POST /v1/credits/consume`) against `GET /healthz`, same server, same run.

Open loop at --rate (default 500/s; latency from the scheduled send time), spread over
--accounts accounts and then on one account (every request locks the same balance row),
and a closed loop at --connections for throughput. The baseline is `GET /healthz` (no
database) under the same loads. Before them: the COMMIT floor (a one-row INSERT committed
with synchronous_commit on, alone on one connection: what no durable gate can beat) and a
warm-up of the gate (its connection and prepared statements). After the run the ledger is
checked: every 200 is one consume entry, and every balance equals the ledger's sum.

    python -m bench.credits --duration 10
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bench.common import (
    bench_environment,
    machine,
    namespace_arguments,
    open_namespace,
    start_uvicorn,
)
from bench.http_load import LoadResult, http_request, run_load
from domain.credits import ledger
from domain.credits.tables import BALANCES, ENTRIES, EntryKind, EntrySource
from domain.types import utcnow

TOKEN = "bench-usage-token-0123456789"
SEED = 10**12


def seed(url: str, accounts: int) -> None:
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        for n in range(accounts + 1):
            ledger.append(
                session,
                ledger.NewEntry(
                    entry_id=f"seed:{n}",
                    account_ref=f"org_{n}",
                    kind=EntryKind.GRANT,
                    credits=SEED,
                    source=EntrySource.MANUAL,
                ),
                utcnow(),
            )
    engine.dispose()


def _commit_latencies(url: str, n: int, interval: float, stop: Any, out: Any) -> None:
    """One-row INSERTs committed one by one (synchronous_commit on); their latencies (ms)."""
    import psycopg

    from ingest.gate_pg import libpq_conninfo

    lat: list[float] = []
    with psycopg.connect(libpq_conninfo(url), autocommit=True) as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
        # A logged table (a TEMP table writes no WAL: its COMMIT flushes nothing).
        table = f"bench_commit_floor_{os.getpid()}"
        conn.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, v int)")
        insert = f"INSERT INTO {table} (v) VALUES (1)"
        while len(lat) < n and not (stop is not None and stop.is_set()):
            t = time.perf_counter()
            conn.execute(insert)
            lat.append((time.perf_counter() - t) * 1000)
            if interval:
                time.sleep(interval)
        conn.execute(f"DROP TABLE {table}")
    out.put(sorted(lat))


def _pcts(lat: list[float]) -> tuple[float, float, float]:
    if not lat:
        return 0.0, 0.0, 0.0
    return lat[len(lat) // 2], lat[int(len(lat) * 0.99)], lat[-1]


def commit_floor(url: str, n: int = 1000) -> tuple[float, float, float]:
    """p50, p99, max (ms) of a one-row INSERT + durable COMMIT on a quiet connection."""
    out: Any = mp.Queue()
    _commit_latencies(url, n, 0.0, None, out)
    return _pcts(out.get())


@contextlib.contextmanager
def floor_probe(url: str, rate: float = 100) -> Iterator[list[float]]:
    """The COMMIT floor measured in another process *during* a phase (`rate` commits/s):
    what the disk and the machine's load allowed any durable COMMIT at that time."""
    stop, out = mp.Event(), mp.Queue[list[float]]()
    proc = mp.Process(target=_commit_latencies, args=(url, 10**9, 1 / rate, stop, out))
    proc.start()
    found: list[float] = []
    try:
        yield found
    finally:
        stop.set()
        found.extend(out.get(timeout=30))
        proc.join(timeout=30)


def consume_requests(prefix: str, accounts: int, hot: bool) -> Callable[[int], bytes]:
    def request_of(i: int) -> bytes:
        account = "org_0" if hot else f"org_{1 + i % accounts}"
        body = orjson.dumps({"id": f"{prefix}{i}", "account_ref": account, "credits": 1})
        return http_request("POST", "/v1/credits/consume", TOKEN, body)

    return request_of


def check(url: str, oks: int) -> tuple[bool, str]:
    engine = create_engine(url)
    with Session(engine) as session:
        entries = session.execute(
            select(func.count()).where(ENTRIES.c.kind == EntryKind.CONSUME.value)
        ).scalar_one()
        rebuilt = ledger.rebuilt_balances(session)
        kept = {r.account_ref: r.balance for r in session.execute(select(BALANCES))}
    engine.dispose()
    same = all(kept[a] == t["balance"] for a, t in rebuilt.items())
    return entries == oks and same, f"consume entries {entries}, 200s {oks}, balances match {same}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1)
    namespace_arguments(parser)
    args = parser.parse_args()
    env = bench_environment(open_namespace(args), "WARNING")
    env["API_TOKENS"] = f"bench:{TOKEN}:usage+read"
    seed(args.database_url, args.accounts)
    floor = commit_floor(args.database_url)
    rows: list[tuple[str, str, LoadResult]] = []
    floors: list[tuple[float, float, float]] = []  # the COMMIT floor during each phase
    oks = 0
    with tempfile.TemporaryDirectory(prefix="bench-credits-") as tmp:
        proc, port = start_uvicorn("ingest.app:app", env, Path(tmp) / "web.log", args.workers)
        try:
            healthz = http_request("GET", "/healthz", TOKEN)
            warm = run_load(port, consume_requests("w", args.accounts, False), duration=1, rate=200)
            oks += warm.statuses.get(200, 0)
            phases: list[tuple[str, str, Callable[[int], bytes], float | None]] = [
                ("GET /healthz", f"{args.rate:g}/s", lambda i: healthz, args.rate),
                (
                    "consume",
                    f"{args.rate:g}/s, {args.accounts} accounts",
                    consume_requests("a", args.accounts, False),
                    args.rate,
                ),
                (
                    "consume",
                    f"{args.rate:g}/s, one account",
                    consume_requests("h", args.accounts, True),
                    args.rate,
                ),
                ("GET /healthz", f"{args.connections} conns", lambda i: healthz, None),
                (
                    "consume",
                    f"{args.connections} conns",
                    consume_requests("c", args.accounts, False),
                    None,
                ),
            ]
            for name, load, request_of, rate in phases:
                with floor_probe(args.database_url) as during:
                    result = run_load(
                        port,
                        request_of,  # type: ignore[arg-type]
                        duration=args.duration,
                        rate=rate,
                        connections=args.connections,
                    )
                rows.append((name, load, result))
                floors.append(_pcts(during))
                if name == "consume":
                    oks += result.statuses.get(200, 0)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    ok, detail = check(args.database_url, oks)
    table = Table(title=f"credit gate ({machine()}; {args.duration:g} s per phase)")
    columns = ("route", "load", "req/s", "p50 ms", "p99 ms", "max ms", "statuses", "errors")
    for col in (*columns, "floor p50/p99/max"):
        table.add_column(col, justify="right" if col not in ("route", "load") else "left")
    for (name, load, r), fl in zip(rows, floors, strict=True):
        table.add_row(
            name,
            load,
            f"{r.rate:,.0f}",
            f"{r.pct(0.5):.2f}",
            f"{r.pct(0.99):.2f}",
            f"{r.latencies_ms[-1] if r.latencies_ms else 0:.1f}",
            " ".join(f"{s}:{n}" for s, n in sorted(r.statuses.items())),
            str(r.errors),
            f"{fl[0]:.2f}/{fl[1]:.2f}/{fl[2]:.0f}",
        )
    console = Console(width=150)
    console.print(table)
    base, spread, hot = rows[0][2], rows[1][2], rows[2][2]
    closed_base, closed = rows[3][2], rows[4][2]
    target = 10.0
    console.print(
        f"COMMIT floor (one-row INSERT, synchronous_commit on), quiet: p50 {floor[0]:.2f} ms, "
        f"p99 {floor[1]:.2f} ms, max {floor[2]:.1f} ms; during the 500/s phase (100 probes/s "
        f"from another process; column 'floor'): p99 {floors[1][1]:.2f} ms; "
        f"consume p50 / quiet floor p50 {spread.pct(0.5) / floor[0]:.1f}x; "
        f"consume p99 / target {target:g} ms {spread.pct(0.99) / target:.2f}; "
        f"consume p99 / /healthz p99 {spread.pct(0.99) / max(base.pct(0.99), 0.01):.1f}x"
    )
    console.print(
        f"credits: consume p99 at {args.rate:g}/s {spread.pct(0.99):.2f} ms "
        f"(one account {hot.pct(0.99):.2f} ms; /healthz {base.pct(0.99):.2f} ms), "
        f"throughput {closed.rate:,.0f}/s vs /healthz {closed_base.rate:,.0f}/s "
        f"(ratio {closed.rate / closed_base.rate:.2f}); ledger check {'ok' if ok else 'FAILED'}: "
        f"{detail}"
    )


if __name__ == "__main__":
    main()
