"""The credit gate (`POST /v1/credits/consume`) against `GET /healthz`, same server, same run.

Open loop at --rate (default 500/s; latency from the scheduled send time), spread over
--accounts accounts and then on one account (every request locks the same balance row),
and a closed loop at --connections for throughput. The baseline is `GET /healthz` (no
database) under the same loads. After the run the ledger is checked: every 200 is one
consume entry, and every balance equals the ledger's sum.

    python -m bench.credits --duration 10
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bench.common import bench_environment, machine, start_uvicorn
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


def consume_requests(prefix: str, accounts: int, hot: bool) -> object:
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
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgresql+psycopg://127.0.0.1/bench_credits"
        ),
    )
    parser.add_argument(
        "--broker-url", default=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
    )
    args = parser.parse_args()
    env = bench_environment(args.database_url, args.broker_url, "WARNING")
    env["API_TOKENS"] = f"bench:{TOKEN}:usage+read"
    seed(args.database_url, args.accounts)
    rows: list[tuple[str, str, LoadResult]] = []
    oks = 0
    with tempfile.TemporaryDirectory(prefix="bench-credits-") as tmp:
        proc, port = start_uvicorn("ingest.app:app", env, Path(tmp) / "web.log", args.workers)
        try:
            healthz = http_request("GET", "/healthz", TOKEN)
            phases: list[tuple[str, str, object, float | None]] = [
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
                result = run_load(
                    port,
                    request_of,  # type: ignore[arg-type]
                    duration=args.duration,
                    rate=rate,
                    connections=args.connections,
                )
                rows.append((name, load, result))
                if name == "consume":
                    oks += result.statuses.get(200, 0)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    ok, detail = check(args.database_url, oks)
    table = Table(title=f"credit gate ({machine()}; {args.duration:g} s per phase)")
    for col in ("route", "load", "req/s", "p50 ms", "p99 ms", "max ms", "statuses", "errors"):
        table.add_column(col, justify="right" if col not in ("route", "load") else "left")
    for name, load, r in rows:
        table.add_row(
            name,
            load,
            f"{r.rate:,.0f}",
            f"{r.pct(0.5):.2f}",
            f"{r.pct(0.99):.2f}",
            f"{r.latencies_ms[-1] if r.latencies_ms else 0:.1f}",
            " ".join(f"{s}:{n}" for s, n in sorted(r.statuses.items())),
            str(r.errors),
        )
    console = Console(width=130)
    console.print(table)
    base, spread, hot = rows[0][2], rows[1][2], rows[2][2]
    closed_base, closed = rows[3][2], rows[4][2]
    console.print(
        f"credits: consume p99 at {args.rate:g}/s {spread.pct(0.99):.2f} ms "
        f"(one account {hot.pct(0.99):.2f} ms; /healthz {base.pct(0.99):.2f} ms), "
        f"throughput {closed.rate:,.0f}/s vs /healthz {closed_base.rate:,.0f}/s "
        f"(ratio {closed.rate / closed_base.rate:.2f}); ledger check {'ok' if ok else 'FAILED'}: "
        f"{detail}"
    )


if __name__ == "__main__":
    main()
