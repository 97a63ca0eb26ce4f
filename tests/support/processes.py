"""Start and stop the real service processes (uvicorn, Celery worker, sweeper) for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (runs of killed tests leave things behind)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class Proc:
    """A child process whose output goes to a log file the test can show on failure."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(
            args,
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()


def start_server(
    env: dict[str, str], log_dir: Path, app: str = "ingest.app:app", workers: int = 1
) -> tuple[Proc, str]:
    """uvicorn serving the real app (`workers` > 1: a supervisor and its children); returns
    once /healthz answers."""
    port = free_port()
    proc = Proc(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            *(["--workers", str(workers)] if workers > 1 else []),
        ],
        env,
        log_dir / f"uvicorn-{port}.log",
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    if not wait_until(up, 20):
        proc.stop()
        raise RuntimeError(f"uvicorn did not start:\n{proc.output()}")
    return proc, base


def start_worker(
    env: dict[str, str],
    log_dir: Path,
    concurrency: int = 1,
    name: str = "worker",
    app: str = "tests.support.worker_app",
) -> Proc:
    """A real Celery worker (prefork) with the tests' handlers registered."""
    return Proc(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            app,
            "worker",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            "--loglevel=INFO",
            "--queues=events,commands,maintenance",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname={name}-{free_port()}@%h",
        ],
        env,
        log_dir / f"{name}-{time.monotonic_ns()}.log",
    )


def start_sweeper(env: dict[str, str], log_dir: Path) -> Proc:
    return Proc(
        [sys.executable, "-m", "workers.cli", "sweeper"],
        env,
        log_dir / f"sweeper-{time.monotonic_ns()}.log",
    )
