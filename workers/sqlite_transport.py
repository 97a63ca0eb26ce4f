"""kombu's SQLAlchemy transport on SQLite, tuned for `billing dev` (the embedded default).

kombu's own transport opens broker.db in SQLite's rollback-journal mode with a full sync on
every commit, takes the write lock for every poll of every queue even when all are empty,
and keeps each delivered message in the table for good (marked invisible), so the table and
every poll's scan grow forever. Here:

- broker.db goes through `domain.db.make_engine`: WAL (readers never wait for the writer),
  a busy timeout, every transaction BEGIN IMMEDIATE, and `synchronous=NORMAL`. A broker
  message is not the durable record: the event row in billing.db (committed with a full
  sync before the webhook is acked) is. A message lost to a power cut leaves its events
  `queued`, and the sweeper publishes them again.
- a poll first looks for a visible message without a lock (WAL readers take none), and only
  then takes one with a single `DELETE ... RETURNING` in an immediate transaction: an idle
  worker never blocks the web process's publishes, and the table holds only what is queued
  (the delivered messages kombu's transport left in a broker.db are deleted on opening it).

The poll interval (`polling_interval`, 1 s in kombu) comes from `BROKER_POLL_INTERVAL_SECONDS`
through `workers.celery_app.transport_options`. kombu passes the transport options it does
not know to `create_engine` (so `polling_interval` made it fail); the engine here takes none.
"""

from __future__ import annotations

from json import loads
from queue import Empty
from typing import Any

from kombu.transport import sqlalchemy as kombu_sqla
from kombu.utils.encoding import bytes_to_str
from sqlalchemy import text

from domain.db import make_engine

# broker.db files whose delivered messages this process has deleted already.
_SWEPT: set[str] = set()


class Channel(kombu_sqla.Channel):  # type: ignore[misc]
    _queue_ids: dict[str, int]

    def _engine_from_config(self) -> Any:
        url = self.connection.client.hostname
        return make_engine(url, synchronous_commit=False)

    def _open(self) -> Any:
        engine, factory = super()._open()
        url = self.connection.client.hostname
        if url not in _SWEPT:
            with engine.begin() as conn:  # kombu never reads an invisible (delivered) row again
                conn.execute(text(f"DELETE FROM {self.message_tablename} WHERE visible = 0"))
            _SWEPT.add(url)
        return engine, factory

    def _queue_id(self, queue: str) -> int:
        try:
            return self._queue_ids[queue]
        except AttributeError:
            self._queue_ids = {}
        except KeyError:
            pass
        queue_id = int(self._get_or_create(queue).id)
        self.session.commit()  # end the transaction the lookup began: no lock held between polls
        self._queue_ids[queue] = queue_id
        return queue_id

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        queue_id = self._queue_id(queue)
        table = self.message_tablename
        engine, _ = self._open()
        peek = engine.raw_connection()  # autocommit: a WAL read that takes no lock
        try:
            found = peek.cursor().execute(
                f"SELECT 1 FROM {table} WHERE queue_id = ? AND visible = 1 LIMIT 1", (queue_id,)
            )
            if found.fetchone() is None:
                raise Empty()
        finally:
            peek.close()
        with engine.begin() as conn:  # BEGIN IMMEDIATE (domain.db)
            row = conn.execute(
                text(
                    f"DELETE FROM {table} WHERE id = (SELECT id FROM {table} "
                    "WHERE queue_id = :q AND visible = 1 ORDER BY id LIMIT 1) RETURNING payload"
                ),
                {"q": queue_id},
            ).first()
        if row is None:  # another consumer took it between the look and the lock
            raise Empty()
        return loads(bytes_to_str(row[0]))


class Transport(kombu_sqla.Transport):  # type: ignore[misc]
    Channel = Channel


TRANSPORT = f"{__name__}:Transport"
