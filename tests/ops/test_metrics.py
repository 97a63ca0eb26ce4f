"""`GET /metrics` moves as events flow: in-process, and across uvicorn + Celery processes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from starlette.testclient import TestClient

from domain.settings import Settings
from ingest.app import create_app
from tests.ops.support import FIXED, Published, runtime_with
from tests.support.env import service_env
from tests.support.processes import Proc, free_port, start_worker, wait_until
from tests.support.stripe_events import event_body, signed_headers
from workers.processor import process_events


def sample(text: str, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels`."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, publish=Published())) as c:
        yield c


def test_metrics_move_as_events_flow(client: TestClient, db: Engine) -> None:
    def scrape() -> str:
        response = client.get("/metrics")
        assert response.status_code == 200
        return response.text

    before = scrape()
    assert sample(before, "billing_metrics_database_up") == 1
    event_id, body = event_body("test.fixable")
    assert client.post("/webhooks/stripe", content=body, headers=signed_headers(body)).is_success
    client.post("/webhooks/stripe", content=body, headers=signed_headers(body))
    client.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": "t=1,v1=00"})
    during = scrape()
    new = {"type": "test.fixable", "outcome": "new"}
    dup = {"type": "test.fixable", "outcome": "duplicate"}
    assert (
        sample(during, "billing_webhook_events_total", **new)
        - sample(before, "billing_webhook_events_total", **new)
        == 1
    )
    assert (
        sample(during, "billing_webhook_events_total", **dup)
        - sample(before, "billing_webhook_events_total", **dup)
        == 1
    )
    assert sample(during, "billing_webhook_signature_failures_total") > sample(
        before, "billing_webhook_signature_failures_total"
    )
    unfinished = sum(
        sample(during, "billing_events_backlog", status=s)
        for s in ("received", "queued", "processing", "retrying")
    )
    assert unfinished == 1
    assert sample(during, "billing_oldest_unprocessed_event_age_seconds") >= 0
    with runtime_with(1) as rt:
        process_events(rt, [event_id], FIXED)
    after = scrape()
    assert sample(after, "billing_events_backlog") == 0
    done = {"type": "test.fixable", "outcome": "processed"}
    assert (
        sample(after, "billing_event_processing_seconds_count", **done)
        - sample(before, "billing_event_processing_seconds_count", **done)
        == 1
    )


@pytest.mark.slow
def test_multiprocess_mode_sums_uvicorn_and_celery_processes(
    db: Engine, broker: object, log_dir: Path, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir()
    env = service_env(PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    port = free_port()
    server = Proc(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "ingest.app:app",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env,
        log_dir / "uvicorn.log",
    )
    worker = start_worker(env, log_dir, concurrency=2)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: _up(base), 30), server.output()
        ids = []
        with httpx.Client(base_url=base, timeout=5) as http:
            for _ in range(20):
                event_id, body = event_body("test.recorded")
                assert http.post("/webhooks/stripe", content=body, headers=signed_headers(body))
                ids.append(event_id)

            def all_counted() -> bool:
                text = http.get("/metrics").text
                return (
                    sample(text, "billing_webhook_events_total", outcome="new") == 20
                    and sample(text, "billing_event_processing_seconds_count", outcome="processed")
                    == 20
                )

            assert wait_until(all_counted, 30), worker.output()[-3000:]
            assert len(list(metrics_dir.iterdir())) >= 2  # several processes wrote samples
    finally:
        server.stop()
        worker.stop()


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
