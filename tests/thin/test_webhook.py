"""Thin events at POST /webhooks/stripe on real Postgres: stored once, published, 400 for bad."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import orjson
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from domain.settings import Settings
from ingest.app import create_app
from tests.support.db import count, event_row
from tests.support.env import WEBHOOK_SECRET
from tests.support.fake_stripe import FakeStripe
from tests.support.fake_stripe_thin import thin_body
from tests.support.processes import wait_until
from tests.support.stripe_events import signed_headers


class Published:
    def __init__(self) -> None:
        self.ids: list[str] = []

    def __call__(self, ids: Sequence[str]) -> None:
        self.ids.extend(ids)


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def client(settings: Settings, published: Published) -> Iterator[TestClient]:
    with TestClient(create_app(settings, publish=published), raise_server_exceptions=False) as c:
        yield c


def post(client: TestClient, body: bytes):  # type: ignore[no-untyped-def]
    return client.post("/webhooks/stripe", content=body, headers=signed_headers(body))


def test_signed_thin_event_is_stored_once_and_published(
    client: TestClient, db: Engine, published: Published, fake_stripe: FakeStripe
) -> None:
    event = fake_stripe.thin.meter_error("mtr_1", {"meter_event_no_customer_defined": 1})
    body = thin_body(event)
    assert b'"data"' not in body
    first = post(client, body)
    assert first.status_code == 200 and first.json() == {"received": True, "duplicate": False}
    again = post(client, body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert count(db, "stripe_events") == 1
    row = event_row(db, event["id"])
    assert row is not None and row["type"] == "v1.billing.meter.error_report_triggered"
    assert row["object_type"] == "billing.meter" and row["object_id"] == "mtr_1"
    assert row["status"] in ("received", "queued") and row["event_created"] > 1_700_000_000
    assert orjson.loads(row["raw_body"]) == orjson.loads(body)  # stored as received
    assert wait_until(lambda: event["id"] in published.ids, 5)


def test_thin_event_sent_by_the_fake_stripe_over_http(
    settings: Settings, db: Engine, fake_stripe: FakeStripe
) -> None:
    """The helper other tests use: a real HTTP post, signed with the endpoint's secret."""
    import threading

    import uvicorn

    app = create_app(settings, publish=lambda ids: None)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            thread.join(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        fake_stripe.send_webhooks_to(f"http://127.0.0.1:{port}/webhooks/stripe", WEBHOOK_SECRET)
        event = fake_stripe.thin.create("v2.core.account.created", None, None)
        assert fake_stripe.send_thin_event(event) == 200
        assert fake_stripe.send_thin_event(event) == 200
    finally:
        server.should_exit = True
        thread.join(5)
    assert count(db, "stripe_events") == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"created": 1727372782},
        {"created": "not a time"},
        {"created": None},
        {"related_object": "mtr_1"},
        {"related_object": {"id": "mtr_1", "type": "billing.meter", "url": "https://evil/v1/x"}},
        {"related_object": {"id": "m" * 300, "type": "billing.meter", "url": "/v1/m/x"}},
        {"id": None},
        {"type": 7},
    ],
)
def test_malformed_thin_event_is_a_json_400_and_not_stored(
    client: TestClient, db: Engine, fake_stripe: FakeStripe, changes: dict[str, object]
) -> None:
    event = {**fake_stripe.thin.create("v1.billing.meter.no_meter_found", None, None), **changes}
    response = post(client, thin_body(event))
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] in ("invalid_event", "unstorable_event")
    assert count(db, "stripe_events") == 0
