"""Real processes: uvicorn, a Celery worker and the sweeper deliver notifications end to end."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import Engine

from tests.read import scenario
from tests.read.receiver import notify_env, running_receiver
from tests.support.env import API_TOKEN, service_env
from tests.support.processes import start_server, start_sweeper, start_worker, wait_until
from tests.support.stripe_events import signed_headers

pytestmark = pytest.mark.slow


def test_signed_webhooks_to_signed_notifications_through_real_processes(
    db: Engine, broker: object, log_dir: Path
) -> None:
    with running_receiver() as receiver:
        receiver.script = [500, 500, 503]  # the product is briefly down
        env = service_env(**notify_env(receiver))
        server, url = start_server(env, log_dir)
        procs = [server, start_worker(env, log_dir), start_sweeper(env, log_dir)]
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        try:
            for event in scenario.events():
                body = orjson.dumps(event)
                answer = httpx.post(
                    f"{url}/webhooks/stripe", content=body, headers=signed_headers(body)
                )
                assert answer.status_code == 200, answer.text

            def all_delivered() -> bool:
                feed = httpx.get(f"{url}/v1/notifications", headers=auth).json()["data"]
                return len(feed) == 4 and all(n["delivery_status"] == "delivered" for n in feed)

            assert wait_until(all_delivered, 45, 0.3), "\n".join(p.output()[-2000:] for p in procs)
            feed = httpx.get(f"{url}/v1/notifications", headers=auth).json()["data"]
            assert [(n["kind"], n["event_id"]) for n in feed] == scenario.KINDS
            # Every id reached the receiver, validly signed; retries repeat ids, never invent.
            assert set(receiver.ids()) == {n["id"] for n in feed}
            assert len(receiver.requests) >= 4 + 3
            for request in receiver.requests:
                request.verify()

            account = httpx.get(f"{url}/v1/accounts/{scenario.ACCT}", headers=auth).json()
            assert account["billing"]["status"] == "canceled"
            assert account["billing"]["entitled"] is False
            assert account["billing"]["plan_tier"] == "business"
        finally:
            for proc in procs:
                proc.stop()
