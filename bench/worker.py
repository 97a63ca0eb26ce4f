"""Worker CPU per event, in one process: messages of one event vs batch messages.

Stores N events of full subscription lifecycles (the pipeline benchmark's mix), then applies
them with the real processor (`workers.processor.process_events`, the production dispatch
table) in messages of `--batch` ids, and again, on fresh copies, one id per message (each
event in its own transaction: the baseline). Prints wall time, this process's CPU time and
SQL round trips per event, and the ratio.

    python -m bench.worker --events 6800 --batch 50
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table
from sqlalchemy import event

from bench.common import (
    bench_environment,
    machine,
    namespace_arguments,
    open_namespace,
    postgres_cpu_seconds,
)
from bench.pipeline import lifecycles


def run(events: list[dict[str, Any]], batch: int) -> dict[str, float]:
    from domain.envelope import parse_envelope
    from domain.event_log import NewEvent, insert_events
    from domain.types import utcnow
    from workers.processor import process_events
    from workers.runtime import get_runtime

    rt = get_runtime()
    raws = [orjson.dumps(e).decode() for e in events]
    with rt.sessions.begin() as session:
        insert_events(session, [NewEvent(parse_envelope(raw), raw) for raw in raws], utcnow())
    ids = [e["id"] for e in events]
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(rt.engine, "before_cursor_execute", count)
    wall, cpu, pg = time.perf_counter(), time.process_time(), postgres_cpu_seconds()
    done = 0
    for start in range(0, len(ids), batch):
        outcome = process_events(rt, ids[start : start + batch])
        done += len(outcome.processed) + len(outcome.ignored)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    pg = postgres_cpu_seconds() - pg
    event.remove(rt.engine, "before_cursor_execute", count)
    if done != len(ids):
        raise SystemExit(f"only {done} of {len(ids)} events were applied")
    n = len(ids)
    return {"rate": n / wall, "cpu_ms": cpu * 1e3 / n, "pg_ms": pg * 1e3 / n, "sql": statements / n}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=6800)
    parser.add_argument("--batch", type=int, default=50, help="ids per message")
    namespace_arguments(parser)
    args = parser.parse_args()

    namespace = open_namespace(args)
    os.environ.update(bench_environment(namespace, "WARNING"))
    customers = max(1, args.events // len(lifecycles(1, "probe")))
    baseline = run(lifecycles(customers, "one"), 1)
    ours = run(lifecycles(customers, "batch"), args.batch)

    table = Table(title=f"worker, one process ({machine()})")
    for col in (
        "ids per message",
        "events/s",
        "CPU ms/event",
        "Postgres CPU ms/event",
        "SQL statements/event (BEGIN/COMMIT not counted)",
    ):
        table.add_column(col, justify="right")
    for label, r in (("1 (baseline)", baseline), (f"{args.batch}", ours)):
        table.add_row(
            label, f"{r['rate']:,.0f}", f"{r['cpu_ms']:.2f}", f"{r['pg_ms']:.2f}", f"{r['sql']:.2f}"
        )
    Console(width=150).print(table)
    print(
        f"worker: {ours['rate']:,.0f} ev/s in one process with {args.batch}-id messages, "
        f"baseline {baseline['rate']:,.0f} ev/s one per message, "
        f"ratio {ours['rate'] / baseline['rate']:.1f}x, CPU {ours['cpu_ms']:.2f} ms/event "
        f"(baseline {baseline['cpu_ms']:.2f}), Postgres CPU {ours['pg_ms']:.2f} ms/event "
        f"(baseline {baseline['pg_ms']:.2f}), SQL {ours['sql']:.2f}/event "
        f"(baseline {baseline['sql']:.2f})"
    )


if __name__ == "__main__":
    main()
