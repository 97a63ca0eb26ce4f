"""After Postgres restarts (or fails over), pooled connections are dead: the app's first
requests must still succeed (or at worst answer a JSON 503), never 500."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.env import API_TOKEN, service_env
from tests.support.postgres_server import PostgresServer
from tests.support.processes import Proc, start_server
from tests.support.stripe_events import event_body, signed_headers

pytestmark = pytest.mark.slow

READS = [
    "/v1/accounts/acct_restart",
    "/v1/accounts/acct_restart/invoices",
    "/v1/notifications",
    "/v1/ops/stats",
]
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def private_postgres() -> Iterator[PostgresServer]:
    from alembic import command

    from migrations import alembic_config

    server = PostgresServer()
    server.start()
    try:
        server.create_database("billing")
        command.upgrade(alembic_config(server.url("billing")), "head")
        yield server
    finally:
        server.destroy()


@pytest.fixture
def app_server(private_postgres: PostgresServer, log_dir: Path) -> Iterator[tuple[Proc, str]]:
    env = service_env(
        DATABASE_URL=private_postgres.url("billing"),
        API_TOKENS=f"tester:{API_TOKEN}:commands+read+ops+usage",
    )
    proc, base = start_server(env, log_dir)
    yield proc, base
    proc.stop()


def _consume(http: httpx.Client, consume_id: str) -> httpx.Response:
    """A consume of an account with no credits: 402 (the gate's batch ran and rolled back)."""
    body = {"id": consume_id, "account_ref": "acct_restart", "credits": 1}
    return http.post("/v1/credits/consume", json=body, headers=AUTH)


def _read_all(http: httpx.Client) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda path: http.get(path, headers=AUTH), READS * 2))


def test_the_first_requests_after_a_postgres_restart_do_not_fail(
    private_postgres: PostgresServer, app_server: tuple[Proc, str]
) -> None:
    proc, base = app_server
    with httpx.Client(base_url=base, timeout=30) as http:
        for _ in range(3):  # fill the pool with connections that the restart will kill
            warm = _read_all(http)
            assert {r.status_code for r in warm} <= {200, 404}, [r.text for r in warm]
        # Sequential consumes: the gate's two lanes take turns, so each has its connection.
        gate_before = [_consume(http, f"before{n}") for n in range(4)]
        private_postgres.restart("immediate")
        after = _read_all(http)
        gate_after = [_consume(http, f"after{n}") for n in range(4)]  # theirs died too
        _, body = event_body()
        webhook = http.post("/webhooks/stripe", content=body, headers=signed_headers(body))
    assert {r.status_code for r in [*gate_before, *gate_after]} == {402}, gate_after[-1].text
    for response in [*after, webhook, *gate_after]:
        assert response.status_code != 500, (response.request.url, response.text)
        assert response.headers["content-type"] == "application/json", response.text
    assert [r.status_code for r in after] == [r.status_code for r in warm]  # all succeeded
    assert webhook.status_code == 200, webhook.text
    assert "Traceback" not in proc.output()
