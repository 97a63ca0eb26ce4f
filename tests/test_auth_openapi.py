"""Bearer-token auth and the OpenAPI document."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from domain.settings import ApiToken
from ingest.auth import authenticate, require_scope
from ingest.openapi import build_document

TOKENS = [
    ApiToken("product", SecretStr("product-token-0123456789"), frozenset({"commands", "read"})),
    ApiToken("oncall", SecretStr("oncall-token-0123456789"), frozenset({"ops"})),
]


@require_scope("ops")
async def ops_only(request: Request) -> Response:
    return PlainTextResponse(request.state.principal)


@pytest.fixture
def client() -> TestClient:
    app = Starlette(routes=[Route("/ops", ops_only)])

    class _S:
        tokens = TOKENS

    app.state.settings = _S()
    return TestClient(app)


def test_authenticate_matches_only_exact_bearer_tokens() -> None:
    assert authenticate(TOKENS, "Bearer oncall-token-0123456789") is TOKENS[1]
    assert authenticate(TOKENS, "bearer product-token-0123456789") is TOKENS[0]
    assert authenticate(TOKENS, "Bearer oncall-token-012345678") is None
    assert authenticate(TOKENS, "Basic oncall-token-0123456789") is None
    assert authenticate(TOKENS, None) is None


def test_missing_token_is_401(client: TestClient) -> None:
    response = client.get("/ops")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_wrong_scope_is_403_and_right_scope_passes(client: TestClient) -> None:
    forbidden = client.get("/ops", headers={"Authorization": "Bearer product-token-0123456789"})
    assert forbidden.status_code == 403
    assert "product-token" not in forbidden.text  # the token itself is never echoed
    ok = client.get("/ops", headers={"Authorization": "Bearer oncall-token-0123456789"})
    assert ok.status_code == 200 and ok.text == "oncall"


def test_openapi_document_covers_the_webhook_and_health() -> None:
    import ingest.app  # noqa: F401 - importing registers every operation

    doc = build_document()
    assert doc["openapi"].startswith("3.")
    assert "post" in doc["paths"]["/webhooks/stripe"]
    ack = doc["paths"]["/webhooks/stripe"]["post"]["responses"]["200"]
    ref = ack["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(doc["components"]["schemas"][ref]["properties"]) == {"received", "duplicate"}
    assert {"/healthz", "/readyz"} <= set(doc["paths"])
