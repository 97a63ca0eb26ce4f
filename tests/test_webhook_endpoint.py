"""POST /webhooks/stripe on real Postgres: what is stored, answered and published."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

import orjson
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from domain.settings import Settings
from ingest.app import create_app
from tests.support.db import count, event_row
from tests.support.env import SECOND_SECRET
from tests.support.processes import wait_until
from tests.support.stripe_events import event_body, signed_headers


class RecordingPublisher:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.fail = False
        self.lock = threading.Lock()

    def __call__(self, ids: Sequence[str]) -> None:
        if self.fail:
            raise ConnectionError("broker down (simulated)")
        with self.lock:
            self.batches.append(list(ids))

    @property
    def ids(self) -> list[str]:
        return [i for batch in self.batches for i in batch]


@pytest.fixture
def published() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def client(settings: Settings, published: RecordingPublisher) -> Iterator[TestClient]:
    with TestClient(create_app(settings, publish=published)) as c:
        yield c


def post(client: TestClient, body: bytes, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return client.post(
        "/webhooks/stripe",
        content=body,
        headers=signed_headers(body) if headers is None else headers,
    )


def test_valid_event_is_stored_acked_and_published(
    client: TestClient, db: Engine, published: RecordingPublisher
) -> None:
    event_id, body = event_body("invoice.paid")
    response = post(client, body)
    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    row = event_row(db, event_id)
    assert row is not None
    assert row["raw_body"] == body.decode()  # exactly as received
    assert row["type"] == "invoice.paid"
    assert row["object_type"] == "test_object"
    assert wait_until(lambda: published.ids == [event_id], 5)
    assert wait_until(lambda: (event_row(db, event_id) or {}).get("status") == "queued", 5)


def test_second_secret_is_accepted(client: TestClient, db: Engine) -> None:
    event_id, body = event_body()
    response = post(client, body, signed_headers(body, secret=SECOND_SECRET))
    assert response.status_code == 200
    assert event_row(db, event_id) is not None


@pytest.mark.parametrize(
    ("mangle", "code"),
    [
        pytest.param(lambda b, h: (b + b" ", h), "no_valid_signature", id="tampered-body"),
        pytest.param(
            lambda b, h: (b, signed_headers(b, secret="whsec_wrong")),
            "no_valid_signature",
            id="wrong-secret",
        ),
        pytest.param(
            lambda b, h: (b, {"Stripe-Signature": h["Stripe-Signature"].replace("v1=", "v0=")}),
            "no_valid_signature",
            id="v0-only",
        ),
        pytest.param(lambda b, h: (b, {}), "missing_signature", id="missing-header"),
        pytest.param(
            lambda b, h: (b, {"Stripe-Signature": "t=,,v1"}),
            "invalid_signature_header",
            id="garbled-header",
        ),
        pytest.param(
            lambda b, h: (b, signed_headers(b, timestamp=int(time.time()) - 301)),
            "timestamp_out_of_tolerance",
            id="301s-old",
        ),
        pytest.param(
            lambda b, h: (b, signed_headers(b, timestamp=int(time.time()) + 301)),
            "timestamp_out_of_tolerance",
            id="301s-future",
        ),
    ],
)
def test_bad_signatures_get_400_and_store_nothing(
    client: TestClient,
    db: Engine,
    published: RecordingPublisher,
    mangle,
    code,  # type: ignore[no-untyped-def]
) -> None:
    _, body = event_body()
    body, headers = mangle(body, signed_headers(body))
    response = post(client, body, headers)
    assert response.status_code == 400
    assert response.json()["error"] == code
    assert response.json()["message"]
    assert count(db, "stripe_events") == 0
    assert published.ids == []


def test_oversized_body_gets_413_before_storage(
    client: TestClient, db: Engine, settings: Settings
) -> None:
    body = b'{"id":"evt_big","type":"x","pad":"' + b"x" * settings.webhook_max_body_bytes + b'"}'
    response = post(client, body)
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert count(db, "stripe_events") == 0


def test_oversized_streamed_body_without_length_gets_413(
    client: TestClient, db: Engine, settings: Settings
) -> None:
    chunk = b"x" * 65536
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(settings.webhook_max_body_bytes // len(chunk) + 10):
            sent += len(chunk)
            yield chunk

    response = client.post(
        "/webhooks/stripe", content=chunks(), headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert response.status_code == 413
    assert count(db, "stripe_events") == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(b"this is not json", "invalid_json", id="not-json"),
        pytest.param(b"\xff\xfe{}", "invalid_json", id="not-utf8"),
        pytest.param(orjson.dumps({"type": "invoice.paid"}), "invalid_event", id="no-id"),
        pytest.param(orjson.dumps({"id": "evt_x"}), "invalid_event", id="no-type"),
        pytest.param(orjson.dumps(["evt_x"]), "invalid_event", id="array"),
    ],
)
def test_signed_garbage_gets_400_and_stores_nothing(
    client: TestClient, db: Engine, body: bytes, code: str
) -> None:
    response = post(client, body)
    assert response.status_code == 400
    assert response.json()["error"] == code
    assert count(db, "stripe_events") == 0


def test_duplicate_is_acked_and_publishes_nothing(
    client: TestClient, db: Engine, published: RecordingPublisher
) -> None:
    event_id, body = event_body()
    assert post(client, body).json()["duplicate"] is False
    assert wait_until(lambda: published.ids == [event_id], 5)
    second = post(client, body)
    assert second.status_code == 200
    assert second.json() == {"received": True, "duplicate": True}
    time.sleep(0.3)
    assert published.ids == [event_id]
    assert count(db, "stripe_events") == 1


def test_unknown_type_is_stored_with_200(client: TestClient, db: Engine) -> None:
    event_id, body = event_body("radar.early_fraud_warning.created")
    assert post(client, body).status_code == 200
    assert event_row(db, event_id)["status"] in {"received", "queued"}  # type: ignore[index]


def test_broker_failure_still_acks_and_leaves_row_for_sweeper(
    client: TestClient, db: Engine, published: RecordingPublisher
) -> None:
    published.fail = True
    event_id, body = event_body()
    assert post(client, body).status_code == 200
    time.sleep(0.3)
    assert event_row(db, event_id)["status"] == "received"  # type: ignore[index]


def test_storage_failure_is_not_acked(settings: Settings, published: RecordingPublisher) -> None:
    broken = settings.model_copy(
        update={"database_url": "postgresql+psycopg://127.0.0.1:1/nowhere"}
    )
    with TestClient(create_app(broken, publish=published)) as c:
        _, body = event_body()
        response = post(c, body)
    assert response.status_code == 503
    assert response.json()["error"] == "storage_unavailable"


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    assert "/webhooks/stripe" in client.get("/openapi.json").json()["paths"]


def test_readiness_names_the_broken_dependency(settings: Settings) -> None:
    broken = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(broken, publish=RecordingPublisher())) as c:
        ready = c.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["broker"]


def test_ingest_commits_durably_while_workers_may_not(client: TestClient, runtime) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    # Ack means durable: the web engines (the writer's too) never opt out of synchronous commit.
    state = client.app.state  # type: ignore[attr-defined]
    for engine in (state.engine, state.ingest_engine):
        with engine.connect() as conn:
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
    # Workers only redo work from the durable log, so they may (by default they do).
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SHOW synchronous_commit")).scalar() == "off"
