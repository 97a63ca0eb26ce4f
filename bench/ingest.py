"""Ingest benchmark: our webhook endpoint vs the tutorial baseline and a minimal reference.

`baseline` is the tutorial webhook (bench/baseline_app.py: one INSERT + COMMIT and a Celery
send per request). `reference` is a minimal group-commit endpoint of our own
(bench/reference_app.py: verify, batched INSERT ... ON CONFLICT DO NOTHING, RPUSH the ids to
Redis, nothing else); issue 14's target is ours >= 1.0x the reference per web worker.

Both run under uvicorn on Postgres (synchronous_commit on: an ack is durable) with Redis as
broker. A separate load-generator process posts unique, signed ~4 KB events, first closed loop
at --connections, then open loop at a fixed --rate. Afterwards every acknowledged event id is
looked up in the database. The last line is a one-line summary.

"ours" runs as `billing serve` does (the header-limited httptools protocol, the edge
middleware). `--compare` adds variants with one of those undone, same run: `stock-http`
(uvicorn's plain httptools protocol), `no-edge-middleware` (no request ids, no JSON 500
handler). Each run also reports the web processes' CPU time per acked event.

    python -m bench.ingest --duration 10
    python -m bench.ingest --compare stock-http --compare no-edge-middleware --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text

from bench.common import (
    SERVE_HTTP,
    bench_environment,
    cpu_seconds,
    machine,
    namespace_arguments,
    open_namespace,
    peak_rss_mb,
    run_loadgen,
    start_uvicorn,
)

# name -> (app, table, HTTP protocol)
TARGETS = {
    "baseline": ("bench.baseline_app:app", "bench_baseline_events", "httptools"),
    "reference": ("bench.reference_app:app", "bench_reference_events", "httptools"),
    "ours": ("ingest.app:app", "stripe_events", SERVE_HTTP),
}
VARIANTS = {
    "stock-http": ("ingest.app:app", "stripe_events", "httptools"),
    "no-edge-middleware": (
        "bench.variants:app_without_edge_middleware",
        "stripe_events",
        SERVE_HTTP,
    ),
}


def load(port: int, args: argparse.Namespace, rate: float, run_id: str) -> dict[str, Any]:
    return run_loadgen(
        port,
        *("--connections", str(args.connections), "--duration", str(args.duration)),
        *("--rate", str(rate), "--run-id", run_id),
    )


def lost(db_url: str, table: str, ids: list[str]) -> int:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        found = 0
        for i in range(0, len(ids), 5000):
            chunk = ids[i : i + 5000]
            found += conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE event_id = ANY(:ids)"), {"ids": chunk}
            ).scalar_one()
    engine.dispose()
    return len(ids) - found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per phase")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rate", type=float, default=1000, help="fixed-rate phase, events/s")
    parser.add_argument("--web-workers", type=int, default=2, help="uvicorn workers per app")
    namespace_arguments(parser)
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        choices=sorted(VARIANTS),
        help="also run ours with one production choice undone (repeatable)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run the reference, ours and the variants alternately this many times",
    )
    args = parser.parse_args()
    # The baseline once, then the reference, ours and each variant in turn, round after
    # round, so a change of the machine's speed during the run hits all of them alike.
    order = [("baseline", TARGETS["baseline"])]
    for round_no in range(1, args.rounds + 1):
        suffix = f" #{round_no}" if args.rounds > 1 else ""
        order.append(("reference" + suffix, TARGETS["reference"]))
        order.append(("ours" + suffix, TARGETS["ours"]))
        order += [(name + suffix, VARIANTS[name]) for name in args.compare]

    namespace = open_namespace(args)
    env = bench_environment(namespace, log_level="INFO")
    logs = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    results: dict[str, dict[str, Any]] = {}
    for index, (name, (app, table, http)) in enumerate(order):
        log = logs / f"{index}.log"
        proc, port = start_uvicorn(app, env, log, args.web_workers, http)
        try:
            phases = []
            for phase, rate in (("c", 0.0), ("f", args.rate)):
                cpu = cpu_seconds(proc.pid)
                result = load(port, args, rate, f"{index}{phase}")
                # CPU per acked event: far less sensitive than events/s to what else the
                # shared machine runs meanwhile, so the A/B comparisons use it too.
                spent = cpu_seconds(proc.pid) - cpu
                result["cpu_us"] = spent / max(len(result["acked_ids"]), 1) * 1e6
                phases.append(result)
            closed, fixed = phases
            rss = peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
        ids = closed.pop("acked_ids") + fixed.pop("acked_ids")
        results[name] = {
            "closed": closed,
            "fixed": fixed,
            "rss": rss,
            "lost": lost(args.database_url, table, ids),
        }
    namespace.clear_broker()

    table_out = Table(
        title=f"ingest ({machine()}; {args.connections} connections; "
        f"{args.duration:.0f} s per phase)"
    )
    for col in (
        "app",
        "phase",
        "events/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "lost",
        "peak RSS MB",
        "web CPU us/event",
    ):
        table_out.add_column(col, justify="right" if col != "app" else "left")
    for name, r in results.items():
        for phase in ("closed", "fixed"):
            m = r[phase]
            label = f"{args.connections} conns" if phase == "closed" else f"{args.rate:.0f}/s"
            table_out.add_row(
                name,
                label,
                f"{m['rate']:,.0f}",
                f"{m['p50_ms']:.1f}",
                f"{m['p99_ms']:.1f}",
                f"{m['max_ms']:.1f}",
                str(sum(m["errors"].values())),
                str(r["lost"]),
                f"{r['rss']:.0f}",
                f"{m['cpu_us']:.0f}",
            )
    Console(width=150).print(table_out)
    ours_runs = [r for name, r in results.items() if name.split(" #")[0] == "ours"]
    ours, base = ours_runs[0], results["baseline"]
    ratio = ours["closed"]["rate"] / max(base["closed"]["rate"], 1e-9)
    errors = sum(ours["closed"]["errors"].values()) + sum(ours["fixed"]["errors"].values())
    reference_runs = [r for name, r in results.items() if name.split(" #")[0] == "reference"]
    print(
        f"ingest: ours {ours['closed']['rate']:,.0f} ev/s, baseline "
        f"{base['closed']['rate']:,.0f} ev/s, ours/baseline {ratio:.1f}x, "
        f"ours/reference {_median_ratio(ours_runs, reference_runs):.2f}x, "
        f"p99 {ours['closed']['p99_ms']:.0f} ms, "
        f"p99 at {args.rate:.0f}/s {ours['fixed']['p99_ms']:.0f} ms, errors {errors}, "
        f"lost {ours['lost']}, web RSS {ours['rss']:.0f} MB"
    )
    print(
        f"ingest: ours / reference = {_median_ratio(ours_runs, reference_runs):.2f} ev/s "
        f"(median of {len(ours_runs)} rounds; closed-loop ev/s "
        f"{_joined(ours_runs, 'closed', 'rate', ',.0f')} vs "
        f"{_joined(reference_runs, 'closed', 'rate', ',.0f')}; CPU us/event "
        f"{_joined(ours_runs, 'closed', 'cpu_us', '.0f')} vs "
        f"{_joined(reference_runs, 'closed', 'cpu_us', '.0f')}; per core, i.e. reference "
        f"CPU / ours, {_median_cpu_ratio(reference_runs, ours_runs):.2f}); ours / baseline = "
        f"{ratio:.2f}; reference lost {sum(r['lost'] for r in reference_runs)}"
    )
    for variant in args.compare:
        runs = [r for name, r in results.items() if name.split(" #")[0] == variant]
        ratios = [
            mine["closed"]["rate"] / max(other["closed"]["rate"], 1e-9)
            for mine, other in zip(ours_runs, runs, strict=True)
        ]
        rates = [
            _joined(ours_runs, "closed", "rate", ",.0f"),
            _joined(runs, "closed", "rate", ",.0f"),
        ]
        p99s = [
            _joined(ours_runs, "fixed", "p99_ms", ".0f"),
            _joined(runs, "fixed", "p99_ms", ".0f"),
        ]
        cpu_us = [
            _joined(ours_runs, "closed", "cpu_us", ".0f"),
            _joined(runs, "closed", "cpu_us", ".0f"),
        ]
        cpu_ratios = [
            mine["closed"]["cpu_us"] / max(other["closed"]["cpu_us"], 1e-9)
            for mine, other in zip(ours_runs, runs, strict=True)
        ]
        print(
            f"ingest: ours / {variant} = {statistics.median(ratios):.2f} ev/s, "
            f"{statistics.median(cpu_ratios):.2f} web CPU per event (medians of {len(ratios)} "
            f"rounds; closed-loop ev/s {rates[0]} vs {rates[1]}; CPU us/event {cpu_us[0]} vs "
            f"{cpu_us[1]}; p99 at {args.rate:.0f}/s {p99s[0]} vs {p99s[1]} ms)"
        )


def _median_ratio(mine: list[dict[str, Any]], other: list[dict[str, Any]]) -> float:
    return statistics.median(
        a["closed"]["rate"] / max(b["closed"]["rate"], 1e-9)
        for a, b in zip(mine, other, strict=True)
    )


def _median_cpu_ratio(mine: list[dict[str, Any]], other: list[dict[str, Any]]) -> float:
    return statistics.median(
        a["closed"]["cpu_us"] / max(b["closed"]["cpu_us"], 1e-9)
        for a, b in zip(mine, other, strict=True)
    )


def _joined(runs: list[dict[str, Any]], phase: str, key: str, fmt: str) -> str:
    return ", ".join(format(r[phase][key], fmt) for r in runs)


if __name__ == "__main__":
    main()
