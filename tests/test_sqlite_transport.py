"""The embedded default's broker (workers/sqlite_transport.py): how `billing dev` keeps up.

kombu's SQLAlchemy transport polls once a second and, with prefetch 1, a full prefetch reads
as an empty queue: the worker took one message per second. These pin the mechanism (poll
interval, prefetch, WAL, lock-free empty polls, delivered messages removed), not a speed.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from queue import Empty
from typing import Any

import orjson
import pytest
from celery import Celery

from domain.settings import Settings, load_settings
from workers.celery_app import SQLITE_PREFETCH, make_celery
from workers.enqueue import publish_event_batch
from workers.sqlite_transport import TRANSPORT, Transport


def embedded_settings(data_dir: Path, **overrides: Any) -> Settings:
    return load_settings(
        **({"database_url": "", "broker_url": "", "data_dir": data_dir} | overrides)
    )


@pytest.fixture
def app(tmp_path: Path) -> Celery:
    return make_celery(embedded_settings(tmp_path))


def ids_in(message: dict[str, Any]) -> list[str]:
    import base64

    body = orjson.loads(base64.b64decode(message["body"]))
    return body[0][0]  # type: ignore[no-any-return]


def test_the_embedded_worker_polls_often_and_prefetches(app: Celery, tmp_path: Path) -> None:
    assert app.conf.broker_transport == TRANSPORT
    assert app.conf.broker_transport_options["polling_interval"] == 0.05
    assert app.conf.worker_prefetch_multiplier == SQLITE_PREFETCH > 1
    with app.connection_for_write() as conn:
        # kombu's `sqla+` prefix would pick kombu's own transport over ours.
        assert isinstance(conn.transport, Transport)
        assert conn.transport.polling_interval == 0.05
        assert conn.hostname == f"sqlite:///{(tmp_path / 'broker.db').as_posix()}"
    tuned = make_celery(embedded_settings(tmp_path, broker_poll_interval_seconds=0.2))
    assert tuned.conf.broker_transport_options["polling_interval"] == 0.2


def test_other_brokers_keep_prefetch_one_and_no_poll_interval(tmp_path: Path) -> None:
    app = make_celery(embedded_settings(tmp_path, broker_url="redis://127.0.0.1:6379/0"))
    assert app.conf.worker_prefetch_multiplier == 1
    assert "polling_interval" not in app.conf.broker_transport_options
    assert app.conf.broker_transport != TRANSPORT


def test_a_delivered_message_leaves_the_table_in_publish_order(app: Celery, tmp_path: Path) -> None:
    for n in range(3):
        publish_event_batch(app, [f"evt_{n}a", f"evt_{n}b"])
    broker = tmp_path / "broker.db"
    with sqlite3.connect(broker) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT count(*) FROM kombu_message").fetchone()[0] == 3
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        got = [ids_in(channel._get("events")) for _ in range(3)]
        with pytest.raises(Empty):
            channel._get("events")
    assert got == [["evt_0a", "evt_0b"], ["evt_1a", "evt_1b"], ["evt_2a", "evt_2b"]]
    with sqlite3.connect(broker) as db:
        # kombu's own transport keeps every delivered message (invisible) for good.
        assert db.execute("SELECT count(*) FROM kombu_message").fetchone()[0] == 0


def test_an_empty_poll_takes_no_lock(app: Celery, tmp_path: Path) -> None:
    """While another process holds broker.db's write lock (a publish), an idle worker's poll
    answers `Empty` at once instead of waiting out the 30 s busy timeout."""
    publish_event_batch(app, ["evt_warm"])
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        channel._get("events")
        holder = sqlite3.connect(tmp_path / "broker.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        outcome: list[str] = []

        def poll() -> None:
            try:
                channel._get("events")
                outcome.append("message")
            except Empty:
                outcome.append("empty")
            except Exception as exc:
                outcome.append(type(exc).__name__)

        try:
            poller = threading.Thread(target=poll)
            poller.start()
            poller.join(10)
            assert outcome == ["empty"]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
            poller.join(40)


def test_on_sqlite_the_ack_stays_durable_while_worker_and_broker_commits_may_not(
    tmp_path: Path,
) -> None:
    """PRAGMA synchronous: 2 (FULL) syncs the WAL on every commit, 1 (NORMAL) at checkpoints.
    The web's engines (what the webhook ack waits for) are FULL; the worker's and the broker's
    writes can be redone from the durable event log, so they are NORMAL."""
    from alembic import command
    from sqlalchemy import text
    from starlette.testclient import TestClient

    from ingest.app import create_app
    from migrations import alembic_config
    from workers.runtime import build_runtime

    settings = embedded_settings(tmp_path, stripe_webhook_secrets="whsec_embedded_test_0123456789")
    command.upgrade(alembic_config(settings.effective_database_url), "head")

    def synchronous(engine: Any) -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("PRAGMA synchronous")).scalar())

    with TestClient(create_app(settings, publish=lambda ids: None)) as client:
        state = client.app.state  # type: ignore[attr-defined]
        assert {synchronous(state.engine), synchronous(state.ingest_engine)} == {2}
    assert synchronous(build_runtime(settings).engine) == 1
    app = make_celery(settings)
    with app.connection_for_write() as conn:
        engine, _ = conn.default_channel._open()
        assert synchronous(engine) == 1


def test_messages_kombus_transport_delivered_are_deleted_on_opening(tmp_path: Path) -> None:
    """A broker.db from before keeps every delivered message (invisible) for good."""
    app = make_celery(embedded_settings(tmp_path / "old"))
    publish_event_batch(app, ["evt_pending"])
    broker = tmp_path / "old" / "broker.db"
    with sqlite3.connect(broker) as db:
        db.execute(
            "INSERT INTO kombu_message (visible, payload, version, queue_id) "
            "SELECT 0, payload, 1, queue_id FROM kombu_message"
        )
    from workers import sqlite_transport

    sqlite_transport._SWEPT.clear()  # as a process started on that file
    with app.connection_for_write() as conn:
        conn.default_channel._open()
    with sqlite3.connect(broker) as db:
        assert db.execute("SELECT visible, count(*) FROM kombu_message GROUP BY 1").fetchall() == [
            (1, 1)
        ]
