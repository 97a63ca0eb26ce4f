"""Fixtures of the fault suite: a private Postgres cluster, one rig per broker, the summary."""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.plans import load_catalog
from tests.faults.brokers import BrokerUnderTest, PrivateRabbitVhost, PrivateRedis
from tests.faults.result import Result
from tests.faults.rig import Rig
from tests.support.env import VIA_PGBOUNCER
from tests.support.fake_stripe import FakeStripe
from tests.support.pgbouncer import PgBouncer
from tests.support.postgres_server import PostgresServer
from tests.support.rabbitmq_vhost import rabbitmq_answers

BROKERS = ("redis", "rabbitmq")
RESULTS: dict[str, list[Result]] = collections.defaultdict(list)


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PostgresServer]:
    """The suite's own cluster: it is restarted in immediate mode mid-run."""
    server = PostgresServer()
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def private_pgbouncer(private_postgres: PostgresServer) -> Iterator[PgBouncer | None]:
    """With TEST_VIA_PGBOUNCER=1, a PgBouncer (transaction mode) in front of that cluster,
    through which the services connect: it outlives the cluster's restart."""
    if not VIA_PGBOUNCER:
        yield None
        return
    bouncer = PgBouncer(target_port=private_postgres.port)
    bouncer.start()
    yield bouncer
    try:
        time.sleep(1.5)  # one stats_period
        if bouncer.transactions("faults_redis") + bouncer.transactions("faults_rabbitmq") == 0:
            pytest.fail("TEST_VIA_PGBOUNCER=1 but no fault suite transaction went through it")
    finally:
        bouncer.destroy()


def _broker(name: str, workdir: Path) -> BrokerUnderTest:
    if name == "redis":
        return PrivateRedis(workdir)
    if not rabbitmq_answers():
        pytest.fail("RabbitMQ is not answering on 127.0.0.1:5672 (.ci/run starts it)")
    return PrivateRabbitVhost("faults")


@pytest.fixture(scope="module", params=BROKERS)
def rig(
    request: pytest.FixtureRequest,
    private_postgres: PostgresServer,
    private_pgbouncer: PgBouncer | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Rig]:
    workdir = tmp_path_factory.mktemp(f"faults-{request.param}")
    broker = _broker(request.param, workdir)
    broker.start()
    fake = FakeStripe(hang_seconds=2.0).start()
    fake.resources.prices = {p.price_id: p.amount for p in load_catalog().plans}
    logs = workdir / "logs"
    logs.mkdir()
    rig = Rig(broker, private_postgres, fake, logs, private_pgbouncer)
    try:
        rig.start()
        yield rig
    finally:
        rig.stop()
        fake.stop()
        broker.close()


def record(result: Result) -> None:
    RESULTS[result.broker].append(result)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per scenario and a total per broker, whatever pytest captured."""
    if not RESULTS:
        return
    terminalreporter.section("fault suite")
    for broker, results in RESULTS.items():
        for result in results:
            terminalreporter.write_line(result.line())
        terminalreporter.write_line(
            f"faults({broker}): {len(results)} scenarios, "
            f"{sum(r.acked for r in results)} events acked, {sum(r.lost for r in results)} lost, "
            f"{sum(r.duplicated_effects for r in results)} duplicated effects, "
            f"{sum(r.server_errors for r in results)} 500s"
        )
