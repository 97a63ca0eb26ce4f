"""Shared bench plumbing: the run's own namespace (database, broker keys), servers as child
processes, RSS."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import platform
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from tests.support.processes import pid_alive

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec_bench_0123456789abcdef0123"

# Where a run creates its own database (any database of the server; only host, port and
# credentials are used), and the Redis database whose keys it shares under its own prefix.
DEFAULT_SERVER_URL = "postgresql+psycopg://127.0.0.1/postgres"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/13"
# bench_<pid>_<6 hex>: a run's database and broker key prefix (tests/support/env.py's scheme).
_RUN_NAME = re.compile(r"^bench_(\d+)_[0-9a-f]{6}$")


class BenchNamespace:
    """One bench run's own Postgres database and broker namespace, so runs at once (two
    people, a bench while CI runs) never wipe or consume each other's rows and messages.

    The database `bench_<pid>_<random>` is created on entry and dropped on exit, unless a
    `database_url` is given (then it is used as is: the bench resets it, nothing drops it).
    On Redis every key of the run is under `BROKER_KEY_PREFIX=bench_<pid>_<random>:` (the
    service's own setting, as each test run's namespace: Celery's `global_keyprefix`, the
    rate limiter), and exit deletes those keys only; the Redis database is never flushed.
    Other brokers are used as given (not namespaced).
    """

    def __init__(
        self,
        database_url: str | None = None,
        broker_url: str | None = DEFAULT_BROKER_URL,
        server_url: str | None = None,
    ) -> None:
        self.name = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
        self.own_database = database_url is None
        server = server_url or os.environ.get("BENCH_SERVER_URL", DEFAULT_SERVER_URL)
        self.database_url = database_url or make_url(server).set(
            database=self.name
        ).render_as_string(hide_password=False)
        self.broker_url = broker_url
        redis_broker = broker_url is not None and _is_redis(broker_url)
        self.broker_key_prefix = f"{self.name}:" if redis_broker else ""
        self._open = False

    @property
    def database(self) -> str:
        return make_url(self.database_url).database or ""

    def env(self) -> dict[str, str]:
        """What a service process needs to work in this namespace (and only in it)."""
        env = {"DATABASE_URL": self.database_url, "BROKER_KEY_PREFIX": self.broker_key_prefix}
        if self.broker_url is not None:
            env["BROKER_URL"] = self.broker_url
        return env

    def describe(self) -> str:
        if self.own_database:
            db = f"database {self.database} (this run's own: created now, dropped at exit)"
        else:
            db = f"database {self.database} (given with --database-url: reset, not dropped)"
        if self.broker_key_prefix:
            broker = (
                f"broker {_hide_password(self.broker_url or '')} keys under "
                f"{self.broker_key_prefix!r} (deleted at exit)"
            )
        elif self.broker_url is not None:
            broker = f"broker {_hide_password(self.broker_url)} (not Redis: not namespaced)"
        else:
            broker = "no shared broker"
        return f"bench namespace {self.name}: {db}; {broker}"

    def open(self) -> None:
        if self._open:
            return
        if self.own_database:
            _create_run_database(self.database_url)
        self._open = True

    def close(self) -> None:
        """Delete the run's broker keys and drop its own database (idempotent)."""
        if not self._open:
            return
        self._open = False
        try:
            self.clear_broker()
        finally:
            if self.own_database:
                _drop_database(self.database_url)

    def clear_broker(self) -> int:
        """Delete this run's Redis keys (nothing else); how many there were."""
        if not self.broker_key_prefix or self.broker_url is None:
            return 0
        # (redis is imported at the top: at exit, an import may no longer be possible.)
        client = redis.Redis.from_url(self.broker_url)
        try:
            # The prefix is `bench_<pid>_<hex>:`: no glob character to escape.
            keys = list(client.scan_iter(match=f"{self.broker_key_prefix}*", count=1000))
            for i in range(0, len(keys), 1000):
                client.delete(*keys[i : i + 1000])
            return len(keys)
        finally:
            client.close()

    def __enter__(self) -> BenchNamespace:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def namespace_arguments(parser: argparse.ArgumentParser, broker: bool = True) -> None:
    """`--database-url` (default: the run's own database) and `--broker-url`."""
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL") or None,
        help="use this database (reset, not dropped) instead of a new one of the run's own "
        "(env BENCH_DATABASE_URL)",
    )
    if broker:
        parser.add_argument(
            "--broker-url",
            default=os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER_URL),
            help="the broker; on Redis the run's keys are under a prefix of its own "
            "(env BENCH_BROKER_URL)",
        )


def open_namespace(args: argparse.Namespace) -> BenchNamespace:
    """Enter the run's namespace for the rest of the process and print it (the script's
    first line of output); it is closed at exit, on Ctrl-C, an exception or SIGTERM.

    `args.database_url` becomes the namespace's database.
    """
    namespace = BenchNamespace(args.database_url, getattr(args, "broker_url", None))
    namespace.open()
    atexit.register(namespace.close)
    _exit_on_sigterm()
    args.database_url = namespace.database_url
    print(namespace.describe(), flush=True)
    return namespace


def _exit_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C (finally blocks stop the children, atexit cleans up)."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, stop)


def _is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://", "unix://"))


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _admin(url: str) -> Engine:
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def _create_run_database(url: str) -> None:
    """Drop the databases of bench runs that were killed (their process is gone), then
    create this run's."""
    name = make_url(url).database
    admin = _admin(url)
    try:
        with admin.connect() as conn:
            others = conn.execute(
                text("SELECT datname FROM pg_database WHERE starts_with(datname, 'bench_')")
            ).scalars()
            for other in list(others):
                match = _RUN_NAME.match(other)
                if match and other != name and not pid_alive(int(match.group(1))):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def _drop_database(url: str) -> None:
    """Drop the database (connections still open to it are closed first)."""
    admin = _admin(url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def reset_database(url: str) -> None:
    """Create the bench database if needed, empty it, and migrate it to head."""
    from alembic import command

    from migrations import alembic_config

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": parsed.database}
        ).scalar()
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    command.upgrade(alembic_config(url), "head")


def run_loadgen(port: int, *options: str) -> dict[str, Any]:
    """Run bench/loadgen.py against `port` in its own process; return its result document.

    The result goes through a file: it holds every acked id, and a large write to a pipe
    from a process whose event loop made stdout non-blocking can come out short.
    """
    with tempfile.TemporaryDirectory(prefix="loadgen-") as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.loadgen",
                "--port",
                str(port),
                "--secret",
                SECRET,
                *options,
                "--out",
                str(out),
            ],
            cwd=ROOT,
            check=True,
        )
        result: dict[str, Any] = orjson.loads(out.read_bytes())
    return result


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The HTTP protocol `billing serve` runs (uvicorn's httptools parser with header limits).
SERVE_HTTP = "ingest.server:HeaderLimitedHttpToolsProtocol"


def start_uvicorn(
    app: str, env: dict[str, str], log: Path, workers: int = 1, http: str = "httptools"
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
            "--loop",
            "uvloop",
            "--http",
            http,
            "--backlog",
            "4096",
        ],
        env=env,
        cwd=ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{app} did not start; see {log}")


def with_children(pid: int) -> list[int]:
    """The process and its direct children (a uvicorn or Celery parent and its workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [pid, *(int(c) for c in children.read_text().split())] if children.exists() else [pid]


def status_mb(pid: int, field: str) -> float:
    """One memory field of /proc/<pid>/status (`VmRSS`, `VmHWM`), in MB; 0 if it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of a process and its children, in MB."""
    return max(status_mb(p, "VmHWM") for p in with_children(pid))


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by a process and all its descendants (live ones)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def postgres_cpu_seconds() -> float:
    """CPU time used so far by this machine's Postgres processes (server and backends)."""
    import psutil

    total = 0.0
    for proc in psutil.process_iter(["name", "cpu_times"]):
        if (proc.info["name"] or "").startswith("postgres") and proc.info["cpu_times"]:
            total += proc.info["cpu_times"].user + proc.info["cpu_times"].system
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by a process and its children (the web workers)."""
    ticks = 0
    for p in with_children(pid):
        try:
            # Fields after the command name (which may hold spaces): utime and stime are 14, 15.
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def bench_environment(namespace: BenchNamespace, log_level: str) -> dict[str, str]:
    """Reset the run's database (migrated to head); the environment the service processes
    (uvicorn, `billing worker`, `billing sweeper`) run with: the run's namespace."""
    reset_database(namespace.database_url)
    return dict(
        os.environ,
        **namespace.env(),
        STRIPE_WEBHOOK_SECRETS=SECRET,
        LOG_FORMAT="json",
        LOG_LEVEL=log_level,
    )
