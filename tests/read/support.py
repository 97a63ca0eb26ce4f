"""The read tests' harness: the real app under TestClient, signed webhooks, the processor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from starlette.testclient import TestClient

from domain.settings import Settings, load_settings
from ingest.app import create_app
from tests.support.env import API_TOKEN
from tests.support.stripe_events import signed_headers
from workers.processor import process_events
from workers.runtime import Runtime

OPS_ONLY_TOKEN = "oncall-only-token-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def app_settings(**overrides: Any) -> Settings:
    """The test environment plus a second token that lacks the read scope."""
    return load_settings(
        api_tokens=f"tester:{API_TOKEN}:commands+read+ops,oncall:{OPS_ONLY_TOKEN}:ops",
        **overrides,
    )


def app_client(settings: Settings) -> Iterator[TestClient]:
    """The real app (lifespan included); events are processed by the test, not a broker."""
    with TestClient(create_app(settings, publish=lambda ids: None)) as client:
        yield client


class Pipeline:
    """Signed webhook -> stored event -> real processor, then reads through the API."""

    def __init__(self, client: TestClient, runtime: Runtime) -> None:
        self.client = client
        self.runtime = runtime

    def deliver(self, *events: dict[str, Any]) -> None:
        """POST each event signed, like Stripe, then process it; each must be processed."""
        for event in events:
            body = orjson.dumps(event)
            answer = self.client.post(
                "/webhooks/stripe", content=body, headers=signed_headers(body)
            )
            assert answer.status_code == 200, answer.text
            outcome = process_events(self.runtime, [event["id"]])
            assert outcome.processed == [event["id"]] or answer.json()["duplicate"], outcome

    def get(self, path: str, **params: Any) -> Any:
        """GET with the read token; asserts 200 and returns the JSON."""
        answer = self.client.get(path, params=params, headers=AUTH)
        assert answer.status_code == 200, answer.text
        return answer.json()
