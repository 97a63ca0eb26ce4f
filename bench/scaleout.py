"""Scale-out benchmark: the same backlog drained by 1, 2 and 4 worker nodes.

For each configuration the bench database and the broker are emptied, a backlog of full
subscription lifecycles (17 events each, one account per lifecycle, interleaved the way a
renewal day arrives: `bench.pipeline.lifecycles`) is posted through the real webhook
endpoint while no worker runs (stored and published), the web process is stopped, and then
N `celery worker` nodes start at once, each with its own node name (`-n w1@%h` ...) as on
separate hosts, and drain it. "steady" events/s and CPU per event are taken once the first
`--skip` (20 %) of the backlog is done (node start-up excluded); "all" is events / (last
`processed_at` - first `processed_at`). The web processes' and backends' CPU per event
while the backlog is posted is printed too (ingest's share of the per-core budget).

While they drain, a sampler records what saturates, every `--sample-interval` seconds:

- CPU (cores busy on average) of the Postgres backends serving the bench database, of
  Postgres' own background processes, of each worker node (its main process and pool
  children), and of the whole machine (the rest is other tenants: the machine is shared);
- lock waits: backends of the bench database with `wait_event_type = 'Lock'` (and
  `LWLock`, `IO`), and ungranted `pg_locks` rows;
- broker queue depth of the `events` queue, and the broker's CPU (the private
  `redis-server` started for the run; the whole shared RabbitMQ node with `--broker rabbitmq`);
- after the drain, `billing_event_batches_total` by outcome summed over the nodes (through a
  `PROMETHEUS_MULTIPROC_DIR` per configuration): batches split by a busy object.

Configurations run in a rotated order each round (1,2,4 then 2,4,1 ...) so a machine that
slows down during a round does not always penalise the same one; speedups are taken within
a round (same-run ratios).

    python -m bench.scaleout --events 20000 --workers 1,2,4 --rounds 3
    python -m bench.scaleout --broker rabbitmq
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from bench.common import (
    ROOT,
    SECRET,
    machine,
    namespace_arguments,
    open_namespace,
    reset_database,
    start_uvicorn,
)
from bench.pipeline import lifecycles, post, wait_drained

QUEUE = "events"


# -- broker -------------------------------------------------------------------------------


class Broker:
    """The bench's broker: an empty queue set before each configuration, and its depth."""

    url: str
    env: dict[str, str]

    def reset(self) -> None:
        raise NotImplementedError

    def depth(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Drop what the bench created."""

    def pids(self) -> list[int]:
        """The broker's own processes, when they serve only this bench."""
        return []


class RedisBroker(Broker):
    """A private redis-server, or the given Redis with the run's keys under `prefix`."""

    def __init__(self, url: str | None, work: Path, prefix: str) -> None:
        import redis

        from tests.support.redis_server import RedisServer

        self.server: RedisServer | None = None
        if url is None:
            self.server = RedisServer(work)
            self.server.start()
            url = self.server.url
        self.url, self.prefix = url, prefix
        self.env = {"BROKER_URL": url, "BROKER_KEY_PREFIX": prefix}
        self.client = redis.Redis.from_url(url)

    def pids(self) -> list[int]:
        return [self.server.proc.pid] if self.server and self.server.proc else []

    def reset(self) -> None:
        keys = list(self.client.scan_iter(f"{self.prefix}*"))
        if keys:
            self.client.delete(*keys)

    def depth(self) -> int:
        # kombu keeps a queue as one list per priority step: "events", "events\x06\x163", ...
        return sum(
            int(self.client.llen(key))  # type: ignore[arg-type]
            for key in self.client.scan_iter(f"{self.prefix}{QUEUE}*")
            if self.client.type(key) == b"list"
        )

    def close(self) -> None:
        self.reset()
        if self.server is not None:
            self.server.stop()


class RabbitBroker(Broker):
    """A private vhost on the machine's shared RabbitMQ node (as the tests use)."""

    def __init__(self) -> None:
        from tests.support.rabbitmq_vhost import RabbitVhost

        self.vhost = RabbitVhost("scaleout")
        self.vhost.create()
        self.url = self.vhost.url
        self.env = {"BROKER_URL": self.url}

    def reset(self) -> None:
        self.vhost.create()  # deleted and made again: no queue, no message

    def depth(self) -> int:
        from kombu import Connection

        try:
            with Connection(self.url, connect_timeout=2) as conn:
                ok = conn.default_channel.queue_declare(queue=QUEUE, passive=True)
                return int(ok.message_count)
        except Exception:  # the queue does not exist yet
            return 0

    def close(self) -> None:
        self.vhost.delete()

    def pids(self) -> list[int]:
        # The node is shared with other tenants' runs: its CPU is an upper bound for ours.
        return [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "beam.smp"]


# -- sampling -----------------------------------------------------------------------------


@dataclass
class CpuGroup:
    """CPU seconds used by a changing set of processes between `start()` and now."""

    first: dict[int, float] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)

    def see(self, proc: psutil.Process, started: bool) -> None:
        try:
            t = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return
        used = t.user + t.system
        # A process first seen after the window started was born in it: count all its CPU.
        self.first.setdefault(proc.pid, 0.0 if started else used)
        self.last[proc.pid] = used

    def seconds(self) -> float:
        return sum(self.last[p] - self.first[p] for p in self.last)


@dataclass
class Samples:
    wall: float = 0.0
    pg_backends: CpuGroup = field(default_factory=CpuGroup)
    pg_other: CpuGroup = field(default_factory=CpuGroup)
    broker: CpuGroup = field(default_factory=CpuGroup)
    nodes: dict[str, CpuGroup] = field(default_factory=dict)
    machine_busy: float = 0.0  # cores
    lock_waits: list[int] = field(default_factory=list)
    lwlock_waits: list[int] = field(default_factory=list)
    io_waits: list[int] = field(default_factory=list)
    active: list[int] = field(default_factory=list)
    ungranted: list[int] = field(default_factory=list)
    depth: list[int] = field(default_factory=list)
    # (seconds since start, events finished, CPU seconds so far: pg backends, worker nodes)
    timeline: list[tuple[float, int, float, float]] = field(default_factory=list)

    def cores(self, group: CpuGroup) -> float:
        return group.seconds() / max(self.wall, 1e-9)

    def steady(self, total: int, skip: float) -> tuple[float, float, float]:
        """Events/s and CPU ms per event (pg backends, workers) once `skip` of the backlog
        is done: node start-up (imports, forks) is over, on a machine with no spare core too.
        """
        points = [p for p in self.timeline if p[1] >= skip * total]
        if len(points) < 2 or points[-1][1] <= points[0][1]:
            return 0.0, 0.0, 0.0
        (t0, n0, pg0, w0), (t1, n1, pg1, w1) = points[0], points[-1]
        done = n1 - n0
        return done / (t1 - t0), (pg1 - pg0) * 1000 / done, (w1 - w0) * 1000 / done


class Sampler(threading.Thread):
    """Samples Postgres, lock waits, the broker and the worker nodes until `stop()`."""

    def __init__(
        self,
        engine: Engine,
        dbname: str,
        broker: Broker,
        nodes: dict[str, subprocess.Popen[bytes]],
        interval: float,
    ) -> None:
        super().__init__(daemon=True)
        self.engine, self.dbname, self.broker = engine, dbname, broker
        self.nodes = {name: psutil.Process(p.pid) for name, p in nodes.items()}
        self.interval = interval
        self.samples = Samples(nodes={name: CpuGroup() for name in nodes})
        self._stop_flag = threading.Event()
        self.started = time.monotonic()

    def stop(self) -> Samples:
        self._stop_flag.set()
        self.join(30)
        return self.samples

    def _cpu(self, started: bool) -> None:
        s = self.samples
        marker = f" {self.dbname} "
        postgres = []
        for proc in psutil.process_iter(["name", "cmdline", "ppid"]):
            if proc.info["name"] in ("postgres", "postmaster"):
                postgres.append(proc)
        ours = [p for p in postgres if marker in " ".join(p.info["cmdline"] or []) + " "]
        postmasters = {p.info["ppid"] for p in ours}
        for proc in postgres:
            cmdline = " ".join(proc.info["cmdline"] or [])
            if proc in ours:
                s.pg_backends.see(proc, started)
            elif (proc.pid in postmasters or proc.info["ppid"] in postmasters) and not (
                "(" in cmdline or "[local]" in cmdline
            ):
                # the postmaster, checkpointer, WAL writer, background writer, autovacuum
                # launcher: shared by every database of the cluster (other tenants' too)
                s.pg_other.see(proc, started)
        for pid in self.broker.pids():
            try:
                s.broker.see(psutil.Process(pid), started)
            except psutil.NoSuchProcess:
                continue
        for name, main in self.nodes.items():
            try:
                family = [main, *main.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for proc in family:
                s.nodes[name].see(proc, started)

    def _database(self) -> None:
        s = self.samples
        with self.engine.connect() as conn:
            row = conn.execute(
                text("""
                SELECT (SELECT count(*) FROM stripe_events
                         WHERE status IN ('processed', 'ignored', 'dead')) AS finished,
                       count(*) FILTER (WHERE wait_event_type = 'Lock') AS lock,
                       count(*) FILTER (WHERE wait_event_type = 'LWLock') AS lwlock,
                       count(*) FILTER (WHERE wait_event_type = 'IO') AS io,
                       count(*) FILTER (WHERE state = 'active') AS active,
                       (SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                         WHERE NOT l.granted AND a.datname = :db) AS ungranted
                FROM pg_stat_activity
                WHERE datname = :db AND pid <> pg_backend_pid()"""),
                {"db": self.dbname},
            ).one()
        s.lock_waits.append(row.lock)
        s.lwlock_waits.append(row.lwlock)
        s.io_waits.append(row.io)
        s.active.append(row.active)
        s.ungranted.append(row.ungranted)
        s.timeline.append(
            (
                time.monotonic() - self.started,
                int(row.finished),
                s.pg_backends.seconds(),
                sum(g.seconds() for g in s.nodes.values()),
            )
        )

    def run(self) -> None:
        self.started = started = time.monotonic()
        machine0 = psutil.cpu_times()
        self._cpu(started=False)
        while not self._stop_flag.wait(self.interval):
            self._cpu(started=True)
            self._database()
            self.samples.depth.append(self.broker.depth())
        self._cpu(started=True)
        machine1 = psutil.cpu_times()
        s = self.samples
        s.wall = time.monotonic() - started
        busy = (machine1.user + machine1.system + machine1.nice) - (
            machine0.user + machine0.system + machine0.nice
        )
        s.machine_busy = busy / s.wall


# -- one configuration --------------------------------------------------------------------


@dataclass
class Result:
    workers: int
    round: int
    events: int
    rate: float  # steady window (see Samples.steady)
    rate_all: float  # first to last processed_at
    worker_ms: float
    pg_ms: float
    post_rate: float
    ingest_web_ms: float  # web CPU per stored event while the backlog was posted
    ingest_pg_ms: float  # Postgres backends' CPU per stored event, same window
    dead: int
    samples: Samples
    batches: dict[str, float]


def processed_span(engine: Engine) -> tuple[int, int, float]:
    with engine.connect() as conn:
        row = conn.execute(
            text("""
            SELECT count(*) AS n, count(*) FILTER (WHERE status = 'dead') AS dead,
                   extract(epoch FROM max(processed_at) - min(processed_at)) AS span
            FROM stripe_events WHERE event_id LIKE 'evt_life_q%'""")
        ).one()
    return int(row.n), int(row.dead), float(row.span or 0)


def wait_published(engine: Engine, total: int, timeout: float = 120) -> None:
    """The web process publishes after its commit: wait until every stored id went out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            done = conn.execute(
                text("SELECT count(*) FROM stripe_events WHERE published_at IS NOT NULL")
            ).scalar_one()
        if done >= total:
            return
        time.sleep(0.2)
    raise TimeoutError(f"only {done} of {total} events were published in {timeout:.0f} s")


def ingest_cpu(web_pid: int, dbname: str, web: CpuGroup, pg: CpuGroup, started: bool) -> None:
    """CPU of the web processes (uvicorn and its workers) and of the bench's backends."""
    main = psutil.Process(web_pid)
    for proc in [main, *main.children(recursive=True)]:
        web.see(proc, started)
    marker = f" {dbname} "
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and marker in " ".join(proc.info["cmdline"] or []) + " ":
            pg.see(proc, started)


def batch_outcomes(metrics_dir: Path) -> dict[str, float]:
    """`billing_event_batches_total` by outcome (together, split), summed over the nodes."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))
    outcomes: dict[str, float] = {}
    for family in registry.collect():
        if family.name == "billing_event_batches":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    outcome = sample.labels["outcome"]
                    outcomes[outcome] = outcomes.get(outcome, 0.0) + sample.value
    return outcomes


def start_node(args: argparse.Namespace, env: dict[str, str], log: Path, n: int) -> Any:
    # The flags of `billing worker` (workers/cli.py), plus a node name of its own.
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.celery_app:app",
            "worker",
            "-n",
            f"w{n}@%h",
            f"--concurrency={args.concurrency}",
            f"--pool={args.pool}",
            "--queues=events,commands,maintenance",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def run_one(
    args: argparse.Namespace,
    broker: Broker,
    backlog: list[dict[str, Any]],
    workers: int,
    round_no: int,
    work: Path,
) -> Result:
    reset_database(args.database_url)
    broker.reset()
    env = dict(
        os.environ,
        DATABASE_URL=args.database_url,
        STRIPE_WEBHOOK_SECRETS=SECRET,
        LOG_FORMAT="json",
        LOG_LEVEL="WARNING",
        **broker.env,
    )
    engine = create_engine(args.database_url)
    tag = f"r{round_no}-w{workers}"
    web, port = start_uvicorn("ingest.app:app", env, work / f"web-{tag}.log", args.web_workers)
    dbname = make_url(args.database_url).database or ""
    web_cpu, pg_cpu = CpuGroup(), CpuGroup()
    ingest_cpu(web.pid, dbname, web_cpu, pg_cpu, started=False)
    try:
        posted = post(port, backlog, 0, args.connections, work)
        wait_published(engine, len(backlog))
        ingest_cpu(web.pid, dbname, web_cpu, pg_cpu, started=True)
    finally:
        web.terminate()
        web.wait(30)
    with engine.connect() as conn:  # fresh statistics, as a live table would have
        conn.execute(text("ANALYZE"))
        conn.commit()
    metrics_dir = work / f"metrics-{tag}"
    metrics_dir.mkdir()
    node_env = dict(env, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    nodes = {
        f"w{n}": start_node(args, node_env, work / f"worker-{tag}-{n}.log", n)
        for n in range(1, workers + 1)
    }
    sampler = Sampler(
        engine, make_url(args.database_url).database or "", broker, nodes, args.sample_interval
    )
    sampler.start()
    try:
        wait_drained(args.database_url, "evt_life_q%", len(backlog), args.timeout)
    finally:
        samples = sampler.stop()
        for proc in nodes.values():
            proc.terminate()
        for proc in nodes.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    n, dead, span = processed_span(engine)
    engine.dispose()
    rate, pg_ms, worker_ms = samples.steady(n, args.skip)
    if rate <= 0:
        raise SystemExit(
            f"{workers} node(s) drained the {n:,}-event backlog before two samples of its "
            f"steady part ({args.skip:.0%} on): give more --events or a smaller "
            "--sample-interval"
        )
    stored = len(backlog)
    return Result(
        workers,
        round_no,
        n,
        rate,
        n / max(span, 1e-9),
        worker_ms,
        pg_ms,
        posted["rate"],
        web_cpu.seconds() * 1000 / stored,
        pg_cpu.seconds() * 1000 / stored,
        dead,
        samples,
        batch_outcomes(metrics_dir),
    )


# -- report -------------------------------------------------------------------------------


def mean(values: list[int]) -> float:
    return statistics.fmean(values) if values else 0.0


def report(results: list[Result], args: argparse.Namespace) -> None:
    console = Console(width=200)
    baseline = {r.round: r.rate for r in results if r.workers == min(args.workers)}
    table = Table(
        title=f"scale-out, {args.broker} broker ({machine()}; each node --pool={args.pool} "
        f"--concurrency={args.concurrency}; backlog {results[0].events:,} events; steady = "
        f"after the first {args.skip:.0%})"
    )
    for col in (
        "round",
        "nodes",
        "ev/s steady",
        "ev/s all",
        "speedup",
        "per worker",
        "worker CPU ms/ev",
        "pg CPU ms/ev",
        "worker cores sum (each)",
        "pg cores",
        "pg bg cores",
        "broker cores",
        "others cores",
        "Lock waits avg/max",
        "ungranted max",
        "queue msgs start/mid",
        "batches split/all",
        "dead",
    ):
        table.add_column(col, justify="right")
    for r in sorted(results, key=lambda r: (r.round, r.workers)):
        s = r.samples
        speedup = r.rate / baseline[r.round]
        each = [s.cores(g) for g in s.nodes.values()]
        depth = s.depth or [0]
        ours = sum(each) + s.cores(s.pg_backends)
        if args.broker == "redis":
            ours += s.cores(s.broker)
        table.add_row(
            str(r.round),
            str(r.workers),
            f"{r.rate:,.0f}",
            f"{r.rate_all:,.0f}",
            f"{speedup:.2f}x",
            f"{speedup / r.workers * min(args.workers):.2f}",
            f"{r.worker_ms:.2f}",
            f"{r.pg_ms:.2f}",
            f"{sum(each):.2f} ({min(each):.2f}-{max(each):.2f})",
            f"{s.cores(s.pg_backends):.2f}",
            f"{s.cores(s.pg_other):.2f}",
            f"{s.cores(s.broker):.2f}",
            f"{max(0.0, s.machine_busy - ours):.2f}",
            f"{mean(s.lock_waits):.2f}/{max(s.lock_waits or [0])}",
            f"{max(s.ungranted or [0])}",
            f"{depth[0]:,}/{depth[len(depth) // 2]:,}",
            f"{r.batches.get('split', 0):.0f}/{sum(r.batches.values()):.0f}",
            str(r.dead),
        )
    console.print(table)
    for w in sorted(set(args.workers)):
        rows = [r for r in results if r.workers == w]
        rates = [r.rate for r in rows]
        speedups = [r.rate / baseline[r.round] for r in rows]
        console.print(
            f"scaleout: {w} node(s): {min(rates):,.0f}-{max(rates):,.0f} ev/s steady "
            f"(median {statistics.median(rates):,.0f}), speedup "
            f"{min(speedups):.2f}-{max(speedups):.2f}x, efficiency per worker "
            f"{min(speedups) / w:.2f}-{max(speedups) / w:.2f}, worker CPU "
            f"{min(r.worker_ms for r in rows):.2f}-{max(r.worker_ms for r in rows):.2f} ms/ev, "
            f"pg CPU {min(r.pg_ms for r in rows):.2f}-{max(r.pg_ms for r in rows):.2f} ms/ev "
            f"over {len(rows)} round(s)"
        )
    web_ms = [r.ingest_web_ms for r in results]
    pg_ms = [r.ingest_pg_ms for r in results]
    console.print(
        f"scaleout: ingest of the backlogs ({args.web_workers} web workers, "
        f"{min(r.post_rate for r in results):,.0f}-{max(r.post_rate for r in results):,.0f} "
        f"ev/s): web CPU {min(web_ms):.2f}-{max(web_ms):.2f} ms/ev, Postgres backends "
        f"{min(pg_ms):.2f}-{max(pg_ms):.2f} ms/ev"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20000, help="backlog size")
    parser.add_argument(
        "--workers",
        type=lambda v: [int(x) for x in v.split(",")],
        default=[1, 2, 4],
        help="worker node counts, comma-separated",
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=1, help="pool size of each node")
    parser.add_argument("--pool", default="prefork", help="prefork, solo or threads")
    parser.add_argument("--broker", choices=("redis", "rabbitmq"), default="redis")
    parser.add_argument(
        "--redis-url", default=None, help="default: a private redis-server on a free port"
    )
    namespace_arguments(parser, broker=False)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--sample-interval", type=float, default=0.5)
    parser.add_argument(
        "--skip", type=float, default=0.2, help="share of the backlog before the steady window"
    )
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    # The broker: a private redis-server, the vhost of this process (RabbitMQ), or on a
    # given Redis (--redis-url) the run's own key prefix.
    args.broker_url = args.redis_url if args.broker == "redis" else None
    namespace = open_namespace(args)

    work = Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    broker: Broker = (
        RedisBroker(args.redis_url, work, f"{namespace.name}:")
        if args.broker == "redis"
        else RabbitBroker()
    )
    per_life = len(lifecycles(1, "probe"))
    backlog = lifecycles(max(1, args.events // per_life), "q")
    results: list[Result] = []
    try:
        for round_no in range(1, args.rounds + 1):
            shift = (round_no - 1) % len(args.workers)
            for workers in args.workers[shift:] + args.workers[:shift]:
                result = run_one(args, broker, backlog, workers, round_no, work)
                print(
                    f"round {round_no}, {workers} node(s): {result.rate:,.0f} ev/s steady, "
                    f"{result.rate_all:,.0f} all, worker CPU {result.worker_ms:.2f} ms/ev "
                    f"({result.events:,} events, posted at {result.post_rate:,.0f}/s, "
                    f"ingest CPU web {result.ingest_web_ms:.2f} + pg {result.ingest_pg_ms:.2f} "
                    f"ms/ev, batches split {result.batches.get('split', 0):.0f} of "
                    f"{sum(result.batches.values()):.0f}, "
                    f"load average {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
                results.append(result)
    finally:
        broker.close()
    report(results, args)
    print(f"logs: {work}")


if __name__ == "__main__":
    main()
