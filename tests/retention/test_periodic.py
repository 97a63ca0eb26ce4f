"""The periodic prune: the sweeper asks on the maintenance queue, a real worker prunes."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from domain.models import EventStatus
from domain.settings import load_settings
from domain.types import utcnow
from tests.retention.support import Spec, event_ids, seed
from tests.support.env import BROKER_KEY_PREFIX, service_env
from tests.support.processes import start_sweeper, start_worker, wait_until
from workers.archive import find_event
from workers.celery_app import PRUNE, app, make_celery
from workers.prune import trigger_prune

P = EventStatus.PROCESSED


def test_beat_schedules_the_prune_on_the_maintenance_queue() -> None:
    celery = make_celery(load_settings(prune_interval_seconds=600))
    assert celery.conf.beat_schedule["prune"] == {"task": PRUNE, "schedule": 600}
    assert celery.conf.task_routes[PRUNE] == {"queue": "maintenance"}


def test_trigger_publishes_once_per_interval(broker: redis.Redis) -> None:
    settings = load_settings(prune_interval_seconds=3600)
    assert trigger_prune(settings, app, now=1e9) is True
    assert trigger_prune(settings, app, now=1e9 + 10) is False  # within the interval
    [message] = broker.lrange(f"{BROKER_KEY_PREFIX}maintenance", 0, -1)
    assert PRUNE.encode() in message
    assert trigger_prune(settings, app, now=1e9 + 3601) is True


@pytest.mark.slow
def test_the_sweeper_loop_gets_old_events_pruned_by_a_worker(
    db: Engine, broker: redis.Redis, tmp_path: Path, log_dir: Path
) -> None:
    now = utcnow()
    old = seed(db, [Spec(P, 120), Spec(P, 91)], now)
    kept = seed(db, [Spec(P, 10), Spec(EventStatus.DEAD, 120, 120)], now)
    env = service_env(ARCHIVE_DIR=str(tmp_path / "archive"), RETENTION_DAYS="90")
    worker, sweeper = start_worker(env, log_dir), start_sweeper(env, log_dir)
    try:
        assert wait_until(lambda: not set(old) & event_ids(db), 60), worker.output()[-3000:]
        assert set(kept) <= event_ids(db)
        assert all(find_event(tmp_path / "archive", e) for e in old)
        assert "retention.pruned" in worker.output()
    finally:
        worker.stop()
        sweeper.stop()
