"""The database gauges of /metrics: cached for METRICS_CACHE_SECONDS, one refresh at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

import domain.ops.stats
from domain.settings import Settings
from ingest.app import create_app
from ingest.gauge_cache import SingleFlightCache
from tests.support.stripe_events import event_body, signed_headers


def sample(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_reused_until_it_is_older_than_max_age() -> None:
    clock, calls = Clock(), []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    cache = SingleFlightCache(compute, max_age=5, clock=clock)
    assert [cache.get(), cache.get()] == [1, 1]
    clock.now += 4.9
    assert cache.get() == 1
    clock.now += 0.2
    assert cache.get() == 2
    assert len(calls) == 2


def test_while_one_refresh_runs_other_callers_get_the_previous_value() -> None:
    clock, calls = Clock(), []
    release, started = threading.Event(), threading.Event()

    def compute() -> int:
        calls.append(1)
        if len(calls) == 2:  # the refresh: held until the test has asked many times
            started.set()
            release.wait(10)
        return len(calls)

    cache = SingleFlightCache(compute, max_age=5, clock=clock)
    assert cache.get() == 1
    clock.now += 10
    refresher = threading.Thread(target=cache.get)
    refresher.start()
    assert started.wait(10)
    others: list[int] = []
    threads = [threading.Thread(target=lambda: others.append(cache.get())) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert others == [1] * 20  # answered at once, from the previous value
    release.set()
    refresher.join(10)
    assert cache.get() == 2
    assert len(calls) == 2  # never a second refresh


def test_before_the_first_value_callers_wait_for_the_one_computation() -> None:
    calls, release = [], threading.Event()

    def compute() -> str:
        calls.append(1)
        release.wait(10)
        return "gauges"

    cache = SingleFlightCache(compute, max_age=5)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get())) for _ in range(10)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join(10)
    assert results == ["gauges"] * 10
    assert len(calls) == 1


def test_a_failed_computation_is_not_cached() -> None:
    outcomes: list[Any] = [RuntimeError("db"), "ok"]

    def compute() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    cache = SingleFlightCache(compute, max_age=5)
    with pytest.raises(RuntimeError):
        cache.get()
    assert cache.get() == "ok"


# Through /metrics: the database is asked once per max age; process counters stay live.


@pytest.fixture
def gauge_queries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = domain.ops.stats.collect

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(domain.ops.stats, "collect", counting)
    return calls


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    cached = settings.model_copy(update={"metrics_cache_seconds": 300.0})
    with TestClient(create_app(cached, publish=lambda ids: None)) as c:
        yield c


def test_scrapes_share_one_database_refresh_per_max_age(
    client: TestClient, gauge_queries: list[int]
) -> None:
    first = client.get("/metrics").text
    assert sample(first, "billing_metrics_database_up") == 1
    _, body = event_body()
    assert client.post("/webhooks/stripe", content=body, headers=signed_headers(body)).is_success
    scrapes = [client.get("/metrics").text for _ in range(5)]
    assert len(gauge_queries) == 1
    new = {"outcome": "new"}
    # Counters are the process's own, never cached: the webhook shows at once.
    assert sample(scrapes[-1], "billing_webhook_events_total", **new) == (
        sample(first, "billing_webhook_events_total", **new) + 1
    )
    # The backlog gauge is the cached one.
    assert sample(scrapes[-1], "billing_events_backlog") == sample(first, "billing_events_backlog")
