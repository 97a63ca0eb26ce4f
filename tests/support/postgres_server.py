"""A private PostgreSQL cluster the tests can restart (or crash) without touching the shared one.

`initdb` + `pg_ctl` on a free port in a temporary directory, trust auth on loopback only.
PostgreSQL refuses to run as root, so when the tests are root the cluster belongs to the
`postgres` system user: its directory is made under the system temporary directory (pytest's
`tmp_path` is private to root) and handed over to that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.processes import free_port, wait_until

BIN_DIR = Path(os.environ.get("PG_BIN_DIR", "/usr/lib/postgresql/15/bin"))


class PostgresServer:
    """A throw-away cluster: `start`, `stop(mode)`, `restart(mode)`, `url(database)`."""

    def __init__(self) -> None:
        if not (BIN_DIR / "initdb").exists():
            raise RuntimeError(f"initdb not found in {BIN_DIR} (set PG_BIN_DIR)")
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="billing-test-pg-"))
        self.data = self.workdir / "pgdata"
        self.log = self.workdir / "postgres.log"
        self._user = "postgres" if os.geteuid() == 0 else None
        self.user = self._user or pwd.getpwuid(os.geteuid()).pw_name

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        cmd = [str(a) for a in args]
        if self._user:
            cmd = ["runuser", "-u", self._user, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, timeout=120)
        if check and result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")[-2000:]
            raise RuntimeError(f"{Path(str(args[0])).name} failed:\n{output}")
        return result

    def init(self) -> None:
        if self._user:
            shutil.chown(self.workdir, self._user, self._user)
        self._run(BIN_DIR / "initdb", "-D", self.data, "-A", "trust", "-U", self.user, "--no-sync")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.workdir}'\nfsync = off\n"
                "max_connections = 200\n"
            )

    def ready(self) -> bool:
        result = subprocess.run(
            [BIN_DIR / "pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-q"],
            capture_output=True,
        )
        return result.returncode == 0

    def start(self, timeout: float = 30) -> None:
        if not self.data.exists():
            self.init()
        self._run(BIN_DIR / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "start")
        if not wait_until(self.ready, timeout):
            raise RuntimeError(f"private Postgres did not start:\n{self.log.read_text()[-2000:]}")

    def stop(self, mode: str = "fast") -> None:
        """`fast` shuts down cleanly; `immediate` is a crash (recovery runs on the next start)."""
        self._run(BIN_DIR / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop", check=False)

    def restart(self, mode: str = "immediate") -> None:
        self.stop(mode)
        self.start()

    def create_database(self, name: str) -> None:
        host = ("-h", "127.0.0.1", "-p", str(self.port), "-U", self.user)
        subprocess.run([BIN_DIR / "createdb", *host, name], check=True, capture_output=True)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.workdir, ignore_errors=True)
