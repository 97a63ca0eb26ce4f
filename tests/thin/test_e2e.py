"""Thin events end to end with real processes: the fake Stripe posts a signed thin event to
uvicorn, a Celery worker fetches the full event back from the fake Stripe and notifies."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.support.db import event_row
from tests.support.env import WEBHOOK_SECRET, service_env
from tests.support.fake_stripe import API_KEY, FakeStripe
from tests.support.processes import start_server, start_worker, wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.slow


def test_a_meter_error_sent_by_stripe_becomes_one_notification(
    db: Engine, private_redis: RedisServer, log_dir: Path, fake_stripe: FakeStripe
) -> None:
    env = service_env(
        BROKER_URL=private_redis.url,
        STRIPE_API_BASE=fake_stripe.url,
        STRIPE_API_KEY=API_KEY,
        STRIPE_RATE_LIMIT_PER_SECOND="200",
    )
    server, url = start_server(env, log_dir)
    worker = start_worker(env, log_dir)
    try:
        fake_stripe.send_webhooks_to(f"{url}/webhooks/stripe", WEBHOOK_SECRET)
        event = fake_stripe.thin.meter_error("mtr_e2e", {"meter_event_no_customer_defined": 2})
        assert fake_stripe.send_thin_event(event) == 200
        assert fake_stripe.send_thin_event(event) == 200  # Stripe delivers twice
        done = wait_until(
            lambda: (event_row(db, event["id"]) or {}).get("status") == "processed", 30
        )
        assert done, worker.output()[-3000:]
        with db.connect() as conn:
            rows = conn.execute(text("SELECT kind, object_id FROM notifications")).all()
        assert [tuple(r) for r in rows] == [("usage_report_failed", "mtr_e2e")]
        assert fake_stripe.calls("GET", f"/v2/core/events/{event['id']}") == 1
    finally:
        worker.stop()
        server.stop()
