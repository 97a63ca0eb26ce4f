"""Replay benchmark: N dead letters replayed in bulk, against a hand-written replay loop.

Both sides start from the same state: N stored events, all `dead` with a dead-letter row.
The baseline is what an on-call script usually does: for each dead letter, one transaction
(reset the event, bump the dead letter) and one Celery publish. Ours is the production
path behind `billing dead-letters replay --all`: set-based UPDATEs in chunks, one audit
record, batch messages published after each commit. Messages go to Redis (no worker
consumes them; the pipeline benchmark covers processing).

    python -m bench.replay --dead-letters 10000
"""

from __future__ import annotations

import argparse
import os
import time

import redis
from celery import Celery
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

from bench.common import SECRET, machine, namespace_arguments, open_namespace, reset_database

SEED = text("""
    INSERT INTO stripe_events (event_id, type, livemode, event_created, raw_body, source,
                               received_at, status, attempts, last_error)
    SELECT 'evt_replay_' || :tag || '_' || g, 'customer.updated', false, 1700000000,
           '{"id":"evt_replay_' || :tag || '_' || g || '","type":"customer.updated",'
           || '"data":{"object":{"id":"cus_' || g || '","object":"customer"}}}',
           'webhook', now(), 'dead', 8, 'BadDeploy: boom'
    FROM generate_series(1, :n) AS g;
    INSERT INTO dead_letters (event_id, failed_at, attempts, error_type, error_message,
                              traceback, replay_count)
    SELECT event_id, now(), 8, 'BadDeploy', 'boom', 'Traceback ...', 0
    FROM stripe_events WHERE event_id LIKE 'evt_replay_' || :tag || '_%'
""")


def seed(url: str, tag: str, n: int) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in str(SEED).split(";"):
            if statement.strip():
                conn.execute(text(statement), {"tag": tag, "n": n})
    engine.dispose()


def baseline(url: str, celery: Celery, tag: str) -> tuple[int, float]:
    """One transaction and one publish per dead letter."""
    engine = create_engine(url)
    with engine.connect() as conn:
        ids = list(
            conn.execute(
                text("SELECT event_id FROM dead_letters WHERE event_id LIKE :p"),
                {"p": f"%_{tag}_%"},
            ).scalars()
        )
    started = time.perf_counter()
    for event_id in ids:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE stripe_events SET status = 'queued', attempts = 0 "
                    "WHERE event_id = :e AND status = 'dead'"
                ),
                {"e": event_id},
            )
            conn.execute(
                text(
                    "UPDATE dead_letters SET replay_count = replay_count + 1, "
                    "last_replayed_at = now() WHERE event_id = :e"
                ),
                {"e": event_id},
            )
        celery.send_task(
            "billing.process_events",
            args=[[event_id]],
            queue="events",
        )
    elapsed = time.perf_counter() - started
    engine.dispose()
    return len(ids), elapsed


def ours(url: str, celery: Celery) -> tuple[int, float]:
    from domain.db import make_engine
    from domain.ops.audit import Actor
    from domain.ops.service import ReplayService
    from workers.enqueue import publish_events

    engine = make_engine(url)
    service = ReplayService(engine, lambda ids: publish_events(celery, ids, 50))  # type: ignore[arg-type]
    started = time.perf_counter()
    result = service.replay_dead_letters(Actor("bench", "cli"), everything=True, reason="bench")
    elapsed = time.perf_counter() - started
    engine.dispose()
    return result.count, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dead-letters", type=int, default=10000)
    parser.add_argument(
        "--baseline-sample",
        type=int,
        default=2000,
        help="dead letters the slow baseline replays (its rate is per event)",
    )
    namespace_arguments(parser)
    args = parser.parse_args()

    namespace = open_namespace(args)
    os.environ.update(namespace.env(), STRIPE_WEBHOOK_SECRETS=SECRET, LOG_LEVEL="WARNING")
    from domain.settings import load_settings
    from workers.celery_app import make_celery

    celery = make_celery(load_settings())
    reset_database(args.database_url)

    seed(args.database_url, "base", args.baseline_sample)
    base_n, base_s = baseline(args.database_url, celery, "base")
    # The baseline's rows are queued now; ours replays only what is dead.
    seed(args.database_url, "ours", args.dead_letters)
    our_n, our_s = ours(args.database_url, celery)
    queued = redis.Redis.from_url(args.broker_url).llen(f"{namespace.broker_key_prefix}events")
    namespace.clear_broker()

    table = Table(title=f"replay ({machine()})")
    for col in ("replay", "dead letters", "seconds", "replays/s"):
        table.add_column(col, justify="right")
    table.add_row("baseline (loop)", f"{base_n:,}", f"{base_s:.2f}", f"{base_n / base_s:,.0f}")
    table.add_row("ours (bulk)", f"{our_n:,}", f"{our_s:.2f}", f"{our_n / our_s:,.0f}")
    Console(width=120).print(table)
    ratio = (our_n / our_s) / (base_n / base_s)
    print(
        f"replay: ours {our_n / our_s:,.0f} dead letters/s ({our_n:,} in {our_s:.1f} s), "
        f"baseline {base_n / base_s:,.0f}/s, ratio {ratio:.1f}x, "
        f"broker messages {queued:,} (baseline {base_n:,} + ours in batches)"
    )


if __name__ == "__main__":
    main()
