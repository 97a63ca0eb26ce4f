"""A private PgBouncer in transaction mode in front of a Postgres server, for the tests.

`pgbouncer` (Debian package) on a free port of 127.0.0.1, `pool_mode = transaction`,
`auth_type = trust`, every database name passed through to the target server (`* = ...`),
so a test's own database is reachable under its own name. PgBouncer refuses to run as root:
when the tests are root it runs as the `postgres` system user, in a directory of the system
temporary directory handed over to that user (like tests/support/postgres_server.py).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.support.processes import free_port, wait_until


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)), None
    )


class PgBouncer:
    """`start()`, `stop()`, `url(database_url)`: the same URL through the pooler."""

    def __init__(
        self,
        target_host: str = "127.0.0.1",
        target_port: int = 5432,
        *,
        pool_size: int = 20,
        port: int | None = None,
    ) -> None:
        binary = pgbouncer_binary()
        if binary is None:
            raise RuntimeError("pgbouncer is not installed (apt-get install pgbouncer)")
        self.binary = binary
        self.port = port or free_port()
        self.target = (target_host, target_port)
        self.pool_size = pool_size
        self.workdir = Path(tempfile.mkdtemp(prefix="billing-test-pgbouncer-"))
        self.log = self.workdir / "pgbouncer.log"
        self._user = "postgres" if os.geteuid() == 0 else None
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, database_url: str) -> str:
        """`database_url` (a URL of the target server) pointed at the pooler instead."""
        return (
            make_url(database_url)
            .set(host="127.0.0.1", port=self.port)
            .render_as_string(hide_password=False)
        )

    def _write_config(self) -> Path:
        host, port = self.target
        ini = self.workdir / "pgbouncer.ini"
        # trust still wants the user listed (with any password): this process's user and
        # the private clusters' `postgres`.
        users = {pwd.getpwuid(os.geteuid()).pw_name, "postgres"}
        (self.workdir / "userlist.txt").write_text("".join(f'"{u}" ""\n' for u in sorted(users)))
        ini.write_text(
            "[databases]\n"
            f"* = host={host} port={port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\n"
            f"unix_socket_dir = {self.workdir}\n"
            "auth_type = trust\n"
            f"auth_file = {self.workdir / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\nmin_pool_size = 0\nreserve_pool_size = 0\n"
            "max_client_conn = 1000\n"
            # A restarted server's connections are replaced quickly (the fault suite).
            "server_check_delay = 1\nserver_login_retry = 1\n"
            f"logfile = {self.log}\npidfile = {self.workdir / 'pgbouncer.pid'}\n"
            "admin_users = postgres\nstats_period = 1\n"
        )
        if self._user:
            shutil.chown(self.workdir, self._user, self._user)
            for path in self.workdir.iterdir():
                shutil.chown(path, self._user, self._user)
        return ini

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, str(self._write_config())],
            user=self._user,
            group=self._user,
            extra_groups=[] if self._user else None,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_until(self.answers, 15):
            raise RuntimeError(f"pgbouncer did not start:\n{self.output()}")

    @property
    def _psql_admin(self) -> list[str]:
        return [
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "pgbouncer",
        ]

    def transactions(self, database: str) -> int:
        """Transactions PgBouncer ran for `database` so far (its admin console's SHOW STATS;
        the counters are updated every `stats_period`, 1 s here)."""
        result = subprocess.run(
            [*self._psql_admin, "-At", "-F", "\t", "-c", "SHOW STATS"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        lines = [line.split("\t") for line in result.stdout.splitlines()]
        header = next((cols for cols in lines if cols and cols[0] == "database"), None)
        rows = [cols for cols in lines if cols and cols[0] == database]
        column = header.index("total_xact_count") if header else 1
        return sum(int(cols[column]) for cols in rows)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
