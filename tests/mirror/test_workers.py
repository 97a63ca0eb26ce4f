"""One lifecycle through several real Celery worker processes at once."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from domain.mirror.stripe_json import ApiShape
from domain.settings import Settings
from tests.mirror.lifecycle import lifecycle
from tests.mirror.support import apply, snapshot, store, truncate
from tests.support.db import statuses
from tests.support.env import TEST_BROKER_URL, TEST_DATABASE_URL, service_env
from tests.support.processes import start_worker, wait_until
from workers.celery_app import make_celery
from workers.enqueue import publish_events
from workers.runtime import Runtime


@pytest.mark.slow
def test_lifecycle_across_parallel_workers_matches_in_order(
    runtime: Runtime, settings: Settings, log_dir: Path
) -> None:
    events = lifecycle(ApiShape.CURRENT, prefix="evt_par")
    apply(runtime, *events)
    expected = snapshot(runtime.engine)
    truncate(runtime.engine)

    env = service_env(DATABASE_URL=TEST_DATABASE_URL, BROKER_URL=TEST_BROKER_URL)
    workers = [start_worker(env, log_dir, concurrency=2, name=f"mirror{n}") for n in range(3)]
    try:
        shuffled = events + random.Random(7).sample(events, 5)
        random.Random(11).shuffle(shuffled)
        ids = store(runtime, shuffled)
        publish_events(make_celery(settings), list(dict.fromkeys(ids)), batch_size=1)
        done = wait_until(lambda: statuses(runtime.engine) == {"processed": len(events)}, 60)
        logs = "\n".join(w.output()[-3000:] for w in workers)
        assert done, f"events not all processed: {statuses(runtime.engine)}\n{logs}"
    finally:
        for w in workers:
            w.stop()
    assert snapshot(runtime.engine) == expected
