"""kombu's Redis transport, with acks and requeues that free their prefetch slot even when
Redis is gone.

kombu's Redis QoS first removes the message from Redis' unacked index and only then frees the
local prefetch slot. When Redis died (or restarted) while tasks were running, the first step
raises and the slot stays taken. Once every slot leaked this way (prefetch 1 x concurrency),
the worker stops asking Redis for messages, so it never notices that its connection is dead
and never reconnects: it sits idle, for good, while the queue fills up. Freeing the slot
whatever Redis answered lets the consumer poll again, fail, and reconnect as it does after
any other connection loss. The message itself is no worse off: it is restored by the
visibility timeout if Redis kept it, and re-published by the sweeper from the database if not.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis, virtual


class QoS(redis.QoS):  # type: ignore[misc]
    def ack(self, delivery_tag: Any) -> None:
        try:
            super().ack(delivery_tag)
        finally:
            virtual.QoS.ack(self, delivery_tag)  # free the slot (a no-op if already freed)

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        try:
            super().reject(delivery_tag, requeue=requeue)
        finally:
            virtual.QoS.ack(self, delivery_tag)


class Channel(redis.Channel):  # type: ignore[misc]
    QoS = QoS


class Transport(redis.Transport):  # type: ignore[misc]
    Channel = Channel


TRANSPORT = f"{__name__}:Transport"
