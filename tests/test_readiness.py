"""/readyz: one long-lived broker connection (re-opened when it breaks), checks bounded in
time and never run twice at once, so a flood of probes costs the broker and database little."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
import redis
from starlette.testclient import TestClient

from domain.settings import Settings
from ingest.app import create_app
from ingest.health import Readiness
from tests.support.redis_server import RedisServer


def _connections_received(server: RedisServer) -> int:
    info = redis.Redis(port=server.port).info("stats")
    return int(info["total_connections_received"])


def test_probes_reuse_one_broker_connection(settings: Settings, private_redis: RedisServer) -> None:
    cfg = settings.model_copy(update={"broker_url": private_redis.url})
    with TestClient(create_app(cfg, publish=lambda ids: None)) as client:
        assert client.get("/readyz").status_code == 200
        before = _connections_received(private_redis)
        for _ in range(20):
            assert client.get("/readyz").json()["checks"]["broker"] == "ok"
        # one connection of ours to count them, none of the probes'
        assert _connections_received(private_redis) - before <= 1


def test_a_restarted_broker_is_reconnected_by_the_next_probe(
    settings: Settings, private_redis: RedisServer
) -> None:
    cfg = settings.model_copy(update={"broker_url": private_redis.url})
    with TestClient(create_app(cfg, publish=lambda ids: None)) as client:
        assert client.get("/readyz").status_code == 200
        private_redis.stop()
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.json()["failed"] == ["broker"]
        private_redis.start()  # same port, a new server: the kept socket is dead
        assert client.get("/readyz").status_code == 200


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung database)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    listener.close()


def test_a_hung_database_is_reported_within_the_readiness_timeout(
    settings: Settings, silent_server: int
) -> None:
    cfg = settings.model_copy(
        update={
            "database_url": f"postgresql+psycopg://127.0.0.1:{silent_server}/hung",
            "readiness_timeout_seconds": 0.3,
        }
    )
    with TestClient(create_app(cfg, publish=lambda ids: None)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "unavailable: timeout", "broker": "ok"}


def test_concurrent_probes_share_one_run_of_a_slow_check() -> None:
    calls: list[int] = []
    release = threading.Event()

    def slow() -> None:
        calls.append(1)
        release.wait(10)

    readiness = Readiness({"database": slow, "broker": lambda: None}, timeout=0.2)

    async def probe_while_hung() -> list[dict[str, str]]:
        first = await asyncio.gather(*(readiness.run() for _ in range(10)))
        again = await readiness.run()  # the hung check is still running: not started twice
        release.set()
        await asyncio.sleep(0.1)
        after = await readiness.run()  # finished: the next probe runs it afresh
        return [*first, again, after]

    results = asyncio.run(probe_while_hung())
    assert all(r == {"database": "unavailable: timeout", "broker": "ok"} for r in results[:11])
    assert results[11] == {"database": "ok", "broker": "ok"}
    assert len(calls) == 2
