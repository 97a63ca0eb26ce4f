"""A private virtual host on the machine's shared RabbitMQ node, for one test run.

The node itself is shared with other runs and sessions, so tests never stop it: everything
they do to "the broker" (drop its connections, purge or recreate its queues) is scoped to a
vhost of their own, named after the run's process id so the next run can delete the vhosts
of runs that were killed.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess

from tests.support.processes import pid_alive

HOST, PORT = "127.0.0.1", 5672
PREFIX = "billing-test-"
_NAME = re.compile(rf"^{re.escape(PREFIX)}(\d+)-[0-9a-z_]+$")


def rabbitmq_answers(timeout: float = 1.0) -> bool:
    """The node accepts TCP connections on the AMQP port."""
    try:
        with socket.create_connection((HOST, PORT), timeout=timeout):
            return True
    except OSError:
        return False


def rabbitmqctl(*args: str, check: bool = True) -> str:
    binary = shutil.which("rabbitmqctl")
    if binary is None:
        raise RuntimeError("rabbitmqctl is not installed")
    result = subprocess.run([binary, "-q", *args], capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"rabbitmqctl {args[0]} failed: {(result.stdout + result.stderr)[-500:]}"
        )
    return result.stdout


class RabbitVhost:
    """`create()` a vhost guest may use, `url`, `recreate()` it empty, `delete()` it."""

    def __init__(self, label: str) -> None:
        self.name = f"{PREFIX}{os.getpid()}-{label}"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{HOST}:{PORT}/{self.name}"

    def create(self) -> None:
        self.delete_stale()
        rabbitmqctl("delete_vhost", self.name, check=False)
        rabbitmqctl("add_vhost", self.name)
        rabbitmqctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")

    def close_connections(self) -> None:
        """Every client connection to this vhost is closed by the broker, as in a restart."""
        rabbitmqctl("close_all_connections", "-p", self.name, "broker restart (test)", check=False)

    def purge(self, queue: str) -> None:
        rabbitmqctl("purge_queue", "-p", self.name, queue)

    def queue_exists(self, queue: str) -> bool:
        listing = rabbitmqctl("list_queues", "-p", self.name, "name", "--no-table-headers")
        return queue in listing.split()

    def delete(self) -> None:
        rabbitmqctl("delete_vhost", self.name, check=False)

    @staticmethod
    def delete_stale() -> None:
        """Delete the vhosts of test runs whose process is gone."""
        for name in rabbitmqctl("list_vhosts", "name", "--no-table-headers").split():
            match = _NAME.match(name)
            if match and not pid_alive(int(match.group(1))):
                rabbitmqctl("delete_vhost", name, check=False)
