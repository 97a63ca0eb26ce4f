"""The webhook as a raw ASGI app ahead of the router: same answers, ids, limits and counters."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine
from starlette.testclient import TestClient
from starlette.types import Message, Scope

from domain.settings import Settings
from ingest.app import create_app
from ingest.signature import SignatureError, SignatureVerifier, verify
from tests.support.db import event_row
from tests.support.stripe_events import event_body, signed_headers

SECRET = b"whsec_fast_path_0123456789"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    def publish(ids: Sequence[str]) -> None:
        pass

    with TestClient(create_app(settings, publish=publish)) as c:
        yield c


def _counter(event_type: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "billing_webhook_events_total", {"type": event_type, "outcome": outcome}
    )
    return value or 0.0


def test_ack_is_json_with_a_request_id_and_counted(client: TestClient, db: Engine) -> None:
    event_id, body = event_body("fast.path_counted")
    before_new = _counter("fast.path_counted", "new")
    before_dup = _counter("fast.path_counted", "duplicate")
    first = client.post(
        "/webhooks/stripe", content=body, headers={**signed_headers(body), "X-Request-Id": "rq-1"}
    )
    again = client.post("/webhooks/stripe", content=body, headers=signed_headers(body))
    assert first.status_code == 200
    assert first.json() == {"received": True, "duplicate": False}
    assert first.headers["content-type"] == "application/json"
    assert first.headers["x-request-id"] == "rq-1"
    assert again.json() == {"received": True, "duplicate": True}
    assert len(again.headers["x-request-id"]) == 32
    assert event_row(db, event_id) is not None
    assert _counter("fast.path_counted", "new") == before_new + 1
    assert _counter("fast.path_counted", "duplicate") == before_dup + 1


def test_other_methods_still_route_to_a_json_405(client: TestClient) -> None:
    response = client.get("/webhooks/stripe")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert "x-request-id" in response.headers


def test_a_chunked_body_over_the_limit_is_refused(client: TestClient, settings: Settings) -> None:
    limit = settings.webhook_max_body_bytes
    chunk = b"x" * 64 * 1024

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as it arrives
        for _ in range(limit // len(chunk) + 2):
            yield chunk

    response = client.post(
        "/webhooks/stripe", content=chunks(), headers={"Stripe-Signature": "t=1,v1=00"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


def test_a_multi_chunk_body_is_joined_before_verifying(client: TestClient, db: Engine) -> None:
    event_id, body = event_body("fast.path_chunks")
    pieces = [body[i : i + 100] for i in range(0, len(body), 100)]
    response = client.post("/webhooks/stripe", content=iter(pieces), headers=signed_headers(body))
    assert response.status_code == 200, response.text
    assert event_row(db, event_id) is not None


def test_a_client_gone_mid_body_is_a_400_not_a_500(settings: Settings) -> None:
    app = create_app(settings, publish=lambda ids: None)
    messages: Iterator[Message] = iter(
        [
            {"type": "http.request", "body": b'{"id": "evt_', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )
    sent: list[Message] = []

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        sent.append(message)

    app.state.settings = settings  # no lifespan needed: the request ends before the writer
    scope: Scope = {
        "type": "http",
        "method": "POST",
        "path": "/webhooks/stripe",
        "root_path": "",
        "headers": [(b"stripe-signature", b"t=1,v1=00")],
        "query_string": b"",
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 400
    assert b"client_disconnected" in sent[1]["body"]


def test_prepared_verifier_agrees_with_the_function() -> None:
    body = b'{"id": "evt_1"}'
    header = signed_headers(body, secret=SECRET.decode())["Stripe-Signature"]
    verifier = SignatureVerifier([b"whsec_other", SECRET])
    verifier.verify(body, header)
    verifier.verify(body, header)  # the prepared keys are copied, never consumed
    verify(body, header, [SECRET])
    with pytest.raises(SignatureError) as refused:
        SignatureVerifier([b"whsec_other"]).verify(body, header)
    assert refused.value.code == "no_valid_signature"
    with pytest.raises(SignatureError):
        verifier.verify(body + b" ", header)
