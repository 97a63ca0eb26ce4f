"""A Celery worker on Redis must not stall for good when its broker dies under in-flight acks.

kombu's Redis QoS removes an acked message from Redis first and frees the prefetch slot
after; when Redis is gone the first step raises and the slot is never freed. A worker whose
slots all leaked this way (two acks with prefetch 1 x concurrency 2) stops asking Redis for
messages, so it never even notices that its connection died: found by the fault suite's
`broker_restarted_empty` scenario, where both workers stopped consuming for good.
"""

from __future__ import annotations

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Message, Producer, Queue

from domain.settings import load_settings
from tests.support.redis_server import RedisServer
from workers.celery_app import make_celery

pytestmark = pytest.mark.faults


def _connection(url: str) -> Connection:
    """A broker connection exactly as the service's Celery app makes them."""
    app = make_celery(load_settings(broker_url=url, broker_key_prefix=""))
    return app.connection_for_write()


@pytest.mark.parametrize("settle", ["ack", "requeue"])
def test_a_failed_ack_or_requeue_still_frees_the_prefetch_slot(
    private_redis: RedisServer, settle: str
) -> None:
    queue = Queue("slots", Exchange("slots", type="direct"), routing_key="slots")
    received: list[Message] = []
    with _connection(private_redis.url) as conn:
        channel = conn.channel()
        channel.basic_qos(0, 1, False)
        Producer(channel).publish(
            {"n": 1}, exchange=queue.exchange, routing_key="slots", declare=[queue]
        )
        with Consumer(channel, [queue], callbacks=[lambda _body, m: received.append(m)]):
            conn.drain_events(timeout=5)
            assert len(received) == 1
            assert not channel.qos.can_consume()  # the one slot is taken
            private_redis.stop()  # the broker dies while the message is in flight
            with pytest.raises(redis.ConnectionError):
                if settle == "ack":
                    received[0].ack()
                else:
                    received[0].reject(requeue=True)
            assert channel.qos.can_consume(), "the slot leaked: this consumer would stall"
