"""The service under fault: real processes on a private Postgres cluster and a private broker.

- web: uvicorn with two worker processes (a supervisor restarts a killed one);
- two Celery workers (prefork, two pool children each), with the fault suite's handlers;
- the sweeper;
- a fake Stripe for commands (in this process: it counts created objects per key).

Everything points at the private cluster (`tests/support/postgres_server.py`), never at the
machine's shared Postgres, so the suite can restart it in immediate mode.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import psutil
from sqlalchemy import Engine, create_engine, text

from domain.settings import load_settings
from tests.commands.conftest import stripe_env
from tests.faults.brokers import BrokerUnderTest
from tests.support.env import service_env
from tests.support.fake_stripe import FakeStripe
from tests.support.handlers import EFFECTS_DDL
from tests.support.pgbouncer import PgBouncer
from tests.support.postgres_server import PostgresServer
from tests.support.processes import Proc, start_server, start_sweeper, start_worker, wait_until
from workers.runtime import Runtime, build_runtime

WORKER_APP = "tests.faults.worker_app"
WORKERS, CONCURRENCY, WEB_WORKERS = 2, 2, 2
COMMANDS_TOKEN = "faults-commands-0123456789"
READ_TOKEN = "faults-read-0123456789abc"
OPS_TOKEN = "faults-ops-0123456789abcd"

# Timings: fast enough that a lost lease or a retry resolves within a scenario, with enough
# attempts that the suite's own faults (a kill, a restart) never exhaust a valid event's.
TIMINGS = {
    "LEASE_SECONDS": "5",
    "RETRY_BASE_SECONDS": "0.2",
    "RETRY_CAP_SECONDS": "1",
    "RETRY_MAX_ATTEMPTS": "6",
    "COMMAND_MAX_ATTEMPTS": "12",
    "SWEEPER_INTERVAL_SECONDS": "0.3",
    "SWEEPER_GRACE_SECONDS": "1",
    "BROKER_TIMEOUT_SECONDS": "1",
    "TASK_TIME_LIMIT_SECONDS": "30",
}


def migrate(url: str) -> None:
    from alembic import command

    from migrations import alembic_config

    command.upgrade(alembic_config(url), "head")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Rig:
    """Start with `start()`; the fault methods kill or restart one piece and bring it back."""

    def __init__(
        self,
        broker: BrokerUnderTest,
        pg: PostgresServer,
        fake: FakeStripe,
        log_dir: Path,
        pooler: PgBouncer | None = None,
    ) -> None:
        self.broker, self.pg, self.fake, self.log_dir = broker, pg, fake, log_dir
        live, reference = f"faults_{broker.name}", f"faults_{broker.name}_in_order"
        for name in (live, reference):
            pg.create_database(name)
            migrate(pg.url(name))
        self.db: Engine = create_engine(pg.url(live), pool_pre_ping=True)
        with self.db.begin() as conn:
            conn.execute(text(EFFECTS_DDL))
        # The services may reach the database through a PgBouncer (TEST_VIA_PGBOUNCER=1);
        # the checks and the in-order reference read the cluster directly.
        self.env = service_env(
            DATABASE_URL=pooler.url(pg.url(live)) if pooler else pg.url(live),
            BROKER_URL=broker.url,
            API_TOKENS=(
                f"commander:{COMMANDS_TOKEN}:commands,reader:{READ_TOKEN}:read,"
                f"operator:{OPS_TOKEN}:ops"
            ),
            **{**stripe_env(fake), **TIMINGS},
        )
        # The in-order run: the same events, one at a time in Stripe's order, in-process.
        self.reference: Runtime = build_runtime(
            load_settings(database_url=pg.url(reference), broker_url=broker.url)
        )
        self.workers: list[Proc] = []
        self.dead: list[Proc] = []  # killed main processes whose children may linger

    def start(self) -> None:
        self.server, self.url = start_server(self.env, self.log_dir, workers=WEB_WORKERS)
        self.workers = [self._worker(n) for n in range(WORKERS)]
        self.sweeper = start_sweeper(self.env, self.log_dir)
        assert wait_until(lambda: all(self.pool(w) for w in self.workers), 60), self.logs()
        assert wait_until(lambda: len(self.web_children()) == WEB_WORKERS, 30), self.logs()

    def _worker(self, n: int) -> Proc:
        return start_worker(
            self.env, self.log_dir, concurrency=CONCURRENCY, name=f"w{n}", app=WORKER_APP
        )

    # --- processes ---------------------------------------------------------------------------

    def pool(self, worker: Proc) -> list[psutil.Process]:
        """The worker's pool children, once it has all of them."""
        try:
            children = psutil.Process(worker.pid).children()
        except psutil.NoSuchProcess:
            return []
        return children if len(children) >= CONCURRENCY else []

    def web_children(self) -> list[psutil.Process]:
        try:
            children = psutil.Process(self.server.pid).children()
        except psutil.NoSuchProcess:
            return []
        return [c for c in children if "spawn_main" in " ".join(_cmdline(c))]

    def owner_of(self, pid: int) -> Proc:
        """The worker whose pool child `pid` is."""
        for worker in self.workers:
            if any(child.pid == pid for child in self.pool(worker)):
                return worker
        raise AssertionError(f"pid {pid} is no worker's pool child")

    def kill_pool_child(self, pid: int) -> None:
        """SIGKILL one pool child; its main process notices and forks a replacement."""
        worker = self.owner_of(pid)
        os.kill(pid, signal.SIGKILL)
        assert wait_until(
            lambda: bool(self.pool(worker)) and pid not in {c.pid for c in self.pool(worker)}, 30
        ), self.logs()

    def kill_worker_main(self, pid: int) -> None:
        """SIGKILL the main process of the worker running `pid`, then start another worker."""
        worker = self.owner_of(pid)
        os.kill(worker.pid, signal.SIGKILL)
        worker.popen.wait(10)
        self.workers.remove(worker)
        self.dead.append(worker)
        replacement = self._worker(len(self.workers) + len(self.dead))
        self.workers.append(replacement)
        assert wait_until(lambda: bool(self.pool(replacement)), 60), self.logs()

    def kill_sweeper(self, down_seconds: float = 1.0) -> None:
        os.kill(self.sweeper.pid, signal.SIGKILL)
        self.sweeper.popen.wait(10)
        self.dead.append(self.sweeper)
        time.sleep(down_seconds)
        self.sweeper = start_sweeper(self.env, self.log_dir)

    def kill_web_child(self) -> None:
        """SIGKILL one uvicorn worker; the supervisor starts a new one."""
        victim = self.web_children()[0]
        victim.send_signal(signal.SIGKILL)
        assert wait_until(
            lambda: (
                len(self.web_children()) == WEB_WORKERS
                and victim.pid not in {c.pid for c in self.web_children()}
            ),
            30,
        ), self.logs()

    def reap(self) -> None:
        """Kill what is left of killed process groups (orphaned pool children)."""
        for proc in self.dead:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.dead.clear()

    def logs(self, tail: int = 3000) -> str:
        procs = [self.server, *self.workers, self.sweeper]
        return "\n".join(f"--- {p.log_path.name}\n{p.output()[-tail:]}" for p in procs)

    def stop(self) -> None:
        for proc in [self.server, *self.workers, self.sweeper]:
            proc.stop()
        self.reap()
        self.db.dispose()
        self.reference.engine.dispose()


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []
