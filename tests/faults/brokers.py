"""The two brokers the fault suite runs on, each with its own way of "restarting empty".

- Redis: a private `redis-server` (no persistence), SIGKILLed and started again on the same
  port: every queued and unacked message is gone, as after a crash of a cache-only Redis.
- RabbitMQ: the machine's shared node must keep running for everyone else, so the suite
  works in a vhost of its own. "Stopped and started with the events queue purged" is
  simulated for that vhost only: the broker closes every client connection of the vhost
  (what clients see when the node stops; unacked messages go back to their queues), then
  the `events` queue is purged (the messages a restart without persistence would lose).
  Clients reconnect on their own, as they do to a restarted node.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Protocol

from tests.support.rabbitmq_vhost import RabbitVhost
from tests.support.redis_server import RedisServer


class BrokerUnderTest(Protocol):
    name: str

    @property
    def url(self) -> str: ...

    def start(self) -> None: ...

    def restart_empty(self) -> None: ...

    def close(self) -> None: ...


class PrivateRedis:
    name = "redis"

    def __init__(self, workdir: Path) -> None:
        self.server = RedisServer(workdir)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> None:
        self.server.start()

    def restart_empty(self, down_seconds: float = 1.0) -> None:
        self.server.stop()  # SIGKILL: no shutdown, no save
        time.sleep(down_seconds)
        self.server.start()

    def close(self) -> None:
        self.server.stop()


class PrivateRabbitVhost:
    name = "rabbitmq"

    def __init__(self, label: str) -> None:
        self.vhost = RabbitVhost(label)

    @property
    def url(self) -> str:
        return self.vhost.url

    def start(self) -> None:
        self.vhost.create()

    def restart_empty(self, down_seconds: float = 0.0) -> None:
        self.vhost.close_connections()
        time.sleep(down_seconds)
        self.vhost.purge("events")

    def close(self) -> None:
        self.vhost.delete()
