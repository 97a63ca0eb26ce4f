"""Shared bench plumbing: a scratch Postgres database, servers as child processes, RSS."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec_bench_0123456789abcdef0123"


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


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of a process and its children, in MB."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    peak = 0.0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except FileNotFoundError:
            continue
    return peak


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by a process and its children (the web workers)."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    ticks = 0
    for p in pids:
        try:
            # Fields after the command name (which may hold spaces): utime and stime are 14, 15.
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def bench_environment(database_url: str, broker_url: str, log_level: str) -> dict[str, str]:
    """Reset the bench database and broker; the environment the service processes run with."""
    import redis

    reset_database(database_url)
    redis.Redis.from_url(broker_url).flushdb()
    return dict(
        os.environ,
        DATABASE_URL=database_url,
        BROKER_URL=broker_url,
        STRIPE_WEBHOOK_SECRETS=SECRET,
        LOG_FORMAT="json",
        LOG_LEVEL=log_level,
    )
