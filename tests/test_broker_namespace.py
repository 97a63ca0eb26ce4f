"""BROKER_KEY_PREFIX: every Redis key the service writes is under it (queues, rate limiter)."""

from __future__ import annotations

import redis

from domain.settings import Settings
from tests.support.env import BROKER_KEY_PREFIX
from workers.celery_app import make_celery
from workers.enqueue import publish_event_batch
from workers.stripe_gateway import make_gateway


def test_published_messages_and_limiter_keys_live_under_the_prefix(
    settings: Settings, broker: redis.Redis
) -> None:
    assert settings.broker_key_prefix == BROKER_KEY_PREFIX
    app = make_celery(settings)
    publish_event_batch(app, ["evt_namespace_1"])
    make_gateway(settings)._limiter.acquire()
    keys = {k.decode() for k in broker.scan_iter(count=1000)}
    assert f"{BROKER_KEY_PREFIX}events" in keys
    assert f"{BROKER_KEY_PREFIX}billing:ratelimit:stripe" in keys
    assert "events" not in keys
    assert broker.llen(f"{BROKER_KEY_PREFIX}events") == 1
