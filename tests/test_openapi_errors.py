"""The OpenAPI document: every `$ref` resolves, and every operation declares its errors.

One error shape for the whole API (`ErrorBody`, and `ValidationErrorBody` for 422s), the
same in the document and in the answers of the read, ops and command APIs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from domain.input_types import INT32_MAX, INT64_MAX
from domain.settings import load_settings
from ingest.app import create_app
from ingest.openapi import ValidationErrorBody, build_document
from tests.support.env import API_TOKEN

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
ERROR = "#/components/schemas/ErrorBody"
INVALID = "#/components/schemas/ValidationErrorBody"
# Readiness answers 503 with its own report (which dependency failed), by design.
OWN_ERROR_BODIES = {("/readyz", "get", "503")}
# The gate's 402 is ErrorBody plus the balance (ingest.credits_models.CreditsExhausted).
OWN_ERROR_BODIES |= {("/v1/credits/consume", "post", "402")}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    import ingest.app  # noqa: F401 - importing registers every operation

    return build_document()


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield path, method, op


def test_every_ref_resolves_in_components(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    refs = set(_refs(doc))
    assert ERROR in refs and INVALID in refs
    dangling = sorted(r for r in refs if r.removeprefix("#/components/schemas/") not in schemas)
    assert dangling == []
    assert all(r.startswith("#/components/schemas/") for r in refs)
    # Two models of one name get module-qualified names (or, at the top level, one $ref).
    assert [name for name in schemas if "__" in name] == []


def test_one_error_model_and_one_validation_error_model(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    assert not [
        name
        for name in schemas
        if name.endswith("ValidationErrorBody") and name != "ValidationErrorBody"
    ]
    error = schemas["ErrorBody"]
    assert {"error", "message"} <= set(error["required"])
    invalid = schemas["ValidationErrorBody"]
    assert {"error", "message", "fields"} <= set(invalid["required"])
    item = invalid["properties"]["fields"]["items"]["$ref"].rsplit("/", 1)[-1]
    assert set(schemas[item]["properties"]) == {"field", "message"}


def test_every_operation_declares_its_error_responses(doc: dict[str, Any]) -> None:
    for path, method, op in _operations(doc):
        responses = op["responses"]
        where = {p["in"] for p in op.get("parameters", [])}
        expected = {"500"}
        if op.get("security"):
            expected |= {"401", "403"}
        if "path" in where:
            expected.add("404")
        if "requestBody" in op:
            expected |= {"400", "413", "422"}
        if "query" in where:
            expected.add("422")
        assert expected <= set(responses), (method, path, sorted(responses))
        for status, response in responses.items():
            if int(status) < 400 or (path, method, status) in OWN_ERROR_BODIES:
                continue
            schema = response["content"]["application/json"]["schema"]["$ref"]
            assert schema == (INVALID if status == "422" else ERROR), (method, path, status)


def test_every_route_of_the_app_is_documented(doc: dict[str, Any]) -> None:
    app = create_app(load_settings())
    for route in app.routes:
        if getattr(route, "path", "").startswith("/ops"):
            continue  # the HTML ops console (docs/console.md) is not part of the JSON API
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in doc["paths"].get(route.path, {}), (method, route.path)


def _parameter(doc: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    [param] = [p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == name]
    return param


def test_query_parameters_are_documented_from_the_models_that_validate_them(
    doc: dict[str, Any],
) -> None:
    assert _parameter(doc, "/v1/ops/dead-letters", "before")["schema"]["maximum"] == INT32_MAX
    assert _parameter(doc, "/v1/ops/commands", "before")["schema"]["maximum"] == INT64_MAX
    assert _parameter(doc, "/v1/notifications", "after")["schema"]["maximum"] == INT64_MAX
    status = _parameter(doc, "/v1/ops/events", "status")["schema"]
    assert "dead" in status["enum"] and "$ref" not in str(status)
    assert _parameter(doc, "/v1/ops/events", "type")["schema"]["maxLength"] == 255
    since = _parameter(doc, "/v1/ops/events", "since")["schema"]
    assert since["type"] == "string"
    limit = _parameter(doc, "/v1/accounts/{account_ref}/invoices", "limit")["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 100, 20)


@pytest.fixture
def client(api_client: TestClient) -> TestClient:
    return api_client


def test_read_ops_and_command_apis_answer_422_in_the_one_shape(client: TestClient) -> None:
    answers = {
        "read": client.get("/v1/notifications", params={"limit": "0"}, headers=AUTH),
        "ops query": client.get("/v1/ops/events", params={"since": "soon"}, headers=AUTH),
        "ops body": client.post("/v1/ops/dead-letters/replay", json={"ids": 1}, headers=AUTH),
        "commands": client.post(
            "/v1/commands",
            json={"type": "portal.create", "account_ref": "a", "params": {}},
            headers={**AUTH, "Idempotency-Key": "k"},
        ),
        "wait": client.get("/v1/commands/cmd_1", params={"wait": "-1"}, headers=AUTH),
    }
    fields = {"read": "limit", "ops query": "since", "ops body": "ids"}
    fields |= {"commands": "params.return_url", "wait": "wait"}
    for api, answer in answers.items():
        assert answer.status_code == 422, (api, answer.text)
        body = answer.json()
        assert set(body) == {"error", "message", "fields"}, (api, body)
        parsed = ValidationErrorBody.model_validate(body)
        assert [f.field for f in parsed.fields] == [fields[api]], (api, body)
