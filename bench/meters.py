"""Meter reporting benchmark: usage records/s from `pending` to `reported` through the fake
Stripe's v2 meter event stream, against a baseline in the same run.

Both sides start from the same state: N pending usage records (R per account, in one closed
bucket) of accounts linked to Stripe customers, in Postgres. Ours is the production pass
(`MeterReporter.report_once`: claim, then requests of 100 events, each marked in one
transaction). The baseline is the same pass sending one event per request, as a naive
reporter would. The fake Stripe runs in its own process (stdlib HTTP server), so the
figures include real HTTP round trips on localhost. A third row sends one record per event
(no aggregation: every account used the meter once), the worst case for our path.

    python -m bench.meters --records 20000 --per-account 4
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import timedelta

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from bench.common import machine, namespace_arguments, open_namespace, reset_database


def serve_fake() -> None:
    """Child mode: a fake Stripe with the `api_calls` meter, until stdin closes."""
    from tests.support.fake_stripe import FakeStripe

    fake = FakeStripe().start()
    fake.meters.add_meter("api_calls")
    print(fake.url, flush=True)
    sys.stdin.read()
    total = sum(fake.meters.totals().values())
    print(f"{total} {len(fake.meters.billed)} {fake.meters.stream_requests}", flush=True)
    fake.stop()


def run(database_url: str, records: int, per_account: int, events_per_request: int) -> dict:
    from domain.db import make_engine, make_sessionmaker
    from domain.mirror.tables import BillingAccount
    from domain.settings import load_settings
    from domain.types import utcnow
    from domain.usage.records import NewUsage, add_usage
    from tests.support.fake_stripe import API_KEY
    from workers.meters.reporter import MeterReporter, ReporterConfig
    from workers.rate_limit import LocalRateLimiter
    from workers.stripe_gateway import make_gateway

    engine = make_engine(database_url, pool_size=2)
    sessions = make_sessionmaker(engine)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE usage_records, billing_accounts RESTART IDENTITY CASCADE"))
    now = utcnow()
    at = now - timedelta(minutes=10)
    accounts = records // per_account
    with sessions.begin() as session:
        session.add_all(
            BillingAccount(
                account_ref=f"acct_{a}",
                stripe_customer_id=f"cus_{a}",
                created_at=now,
                updated_at=now,
            )
            for a in range(accounts)
        )
        session.flush()
        add_usage(
            session,
            [
                NewUsage(f"u-{a}-{i}", f"acct_{a}", "api_calls", 1, at + timedelta(seconds=i))
                for a in range(accounts)
                for i in range(per_account)
            ],
            now,
        )
    with engine.connect() as conn:  # fresh rows: give the planner the statistics it has live
        conn.execute(text("ANALYZE usage_records, billing_accounts"))
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.meters", "--serve-fake"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdin is not None
    url = child.stdout.readline().strip()
    settings = load_settings(
        database_url=database_url,
        stripe_api_base=url,
        stripe_meter_events_base=url,
        stripe_api_key=API_KEY,
        stripe_timeout_seconds=30,
    )
    gateway = make_gateway(settings, LocalRateLimiter(1_000_000))
    config = ReporterConfig(
        max_records=records, events_per_request=events_per_request, unlinked_reject_after=None
    )
    reporter = MeterReporter(sessions, gateway, config)
    started = time.perf_counter()
    outcome = reporter.report_once()
    elapsed = time.perf_counter() - started
    child.stdin.close()
    billed, events, requests = (int(x) for x in child.stdout.readline().split())
    child.wait(timeout=30)
    engine.dispose()
    assert outcome.reported_records == records == billed, (outcome, billed)
    return {
        "records": records,
        "events": events,
        "requests": requests,
        "seconds": elapsed,
        "records_per_s": records / elapsed,
        "events_per_s": events / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--per-account", type=int, default=4)
    namespace_arguments(parser, broker=False)
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        serve_fake()
        return
    open_namespace(args)
    reset_database(args.database_url)
    ours = run(args.database_url, args.records, args.per_account, 100)
    baseline = run(args.database_url, args.records, args.per_account, 1)
    unaggregated = run(args.database_url, args.records, 1, 100)
    table = Table(title=f"meter reporting, {args.records} records ({machine()})")
    for column in ("path", "events", "requests", "seconds", "records/s", "events/s"):
        table.add_column(column, justify="right" if column != "path" else "left")
    for name, r in (
        (f"ours: 100 events/request, {args.per_account} records/event", ours),
        (f"baseline: 1 event/request, {args.per_account} records/event", baseline),
        ("ours: 100 events/request, 1 record/event", unaggregated),
    ):
        table.add_row(
            name,
            str(r["events"]),
            str(r["requests"]),
            f"{r['seconds']:.2f}",
            f"{r['records_per_s']:,.0f}",
            f"{r['events_per_s']:,.0f}",
        )
    console = Console(width=120)
    console.print(table)
    ratio = ours["records_per_s"] / baseline["records_per_s"]
    console.print(f"ours / baseline: {ratio:.1f}x records/s (target >= 5,000 records/s)")


if __name__ == "__main__":
    main()
