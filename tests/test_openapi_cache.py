"""`GET /openapi.json` is rendered once at start-up and revalidated with an ETag."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

import ingest.openapi
from domain.settings import Settings
from ingest.app import create_app


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts calls of build_document (which stays callable, for tests and tools)."""
    calls: list[int] = []
    real: Callable[..., dict[str, Any]] = ingest.openapi.build_document

    def counting(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest.openapi, "build_document", counting)
    return calls


@pytest.fixture
def client(settings: Settings, builds: list[int]) -> Iterator[TestClient]:
    with TestClient(create_app(settings, publish=lambda ids: None)) as c:
        yield c


def test_the_document_is_built_once_not_per_request(client: TestClient, builds: list[int]) -> None:
    bodies = [client.get("/openapi.json").content for _ in range(5)]
    assert len(builds) == 1
    assert len(set(bodies)) == 1


def test_the_served_document_is_the_built_one_with_every_module_registered(
    client: TestClient,
) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document = orjson.loads(response.content)
    assert document == ingest.openapi.build_document()
    for path in ("/webhooks/stripe", "/readyz", "/v1/commands", "/v1/plans"):
        assert path in document["paths"]
    assert any(path.startswith("/v1/ops/") for path in document["paths"])
    assert any(path.startswith("/v1/accounts/") for path in document["paths"])


def test_a_client_holding_the_current_etag_gets_304(client: TestClient) -> None:
    first = client.get("/openapi.json")
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = client.get("/openapi.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    listed = client.get("/openapi.json", headers={"If-None-Match": f'"old", W/{etag}'})
    assert listed.status_code == 304
    stale = client.get("/openapi.json", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200
    assert stale.content == first.content
