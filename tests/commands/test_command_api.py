"""The HTTP surface: auth, idempotency keys, validation errors, waiting, the plan catalog."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import anyio
import pytest
from starlette.testclient import TestClient
from starlette.types import Message, Scope

from ingest.openapi import build_document
from tests.commands.conftest import AUTH, READER_TOKEN, Commands

ENSURE = {"type": "customer.ensure", "account_ref": "acct_1", "params": {}}


def test_missing_token_is_401_and_wrong_scope_403(api: TestClient) -> None:
    assert api.post("/v1/commands", json=ENSURE).status_code == 401
    reader = {"Authorization": f"Bearer {READER_TOKEN}", "Idempotency-Key": "k1"}
    assert api.post("/v1/commands", json=ENSURE, headers=reader).status_code == 403
    assert api.get("/v1/commands/cmd_x", headers=reader).status_code == 403
    assert api.get("/v1/plans").status_code == 401


def test_idempotency_key_semantics(api: TestClient) -> None:
    assert api.post("/v1/commands", json=ENSURE, headers=AUTH).json()["error"] == (
        "idempotency_key_required"
    )
    headers = {**AUTH, "Idempotency-Key": "order-42"}
    first = api.post("/v1/commands", json=ENSURE, headers=headers)
    assert first.status_code == 202 and first.json()["status"] == "queued"
    assert first.json()["url"] == f"/v1/commands/{first.json()['id']}"
    again = api.post("/v1/commands", json=ENSURE, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    other = api.post("/v1/commands", json={**ENSURE, "account_ref": "acct_2"}, headers=headers)
    assert other.status_code == 409 and other.json()["error"] == "idempotency_conflict"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"type": "customer.explode", "account_ref": "a", "params": {}}, ["type"]),
        ({"type": "customer.ensure", "params": {}}, ["account_ref"]),
        (
            {"type": "customer.ensure", "account_ref": "a", "params": {"email": "nope"}},
            ["params", "email"],
        ),
        (
            {
                "type": "customer.update_billing_details",
                "account_ref": "a",
                "params": {"vat_number": "NL123"},
            },
            ["params", "vat_number"],
        ),
        (
            {
                "type": "customer.update_billing_details",
                "account_ref": "a",
                "params": {"kvk_number": "12"},
            },
            ["params", "kvk_number"],
        ),
        (
            {
                "type": "checkout.create",
                "account_ref": "a",
                "params": {
                    "tier": "gold",
                    "interval": "month",
                    "success_url": "https://a.b/",
                    "cancel_url": "https://a.b/",
                },
            },
            ["params", "tier"],
        ),
        (
            {
                "type": "subscription.change_plan",
                "account_ref": "a",
                "params": {"tier": "pro", "interval": "week"},
            },
            ["params", "interval"],
        ),
        (
            {
                "type": "checkout.create",
                "account_ref": "a",
                "params": {
                    "tier": "pro",
                    "interval": "month",
                    "success_url": "not a url",
                    "cancel_url": "https://a.b/",
                },
            },
            ["params", "success_url"],
        ),
        (
            {
                "type": "checkout.create",
                "account_ref": "a",
                "params": {
                    "tier": "pro",
                    "interval": "month",
                    "success_url": "https://a.b/",
                    "cancel_url": "https://a.b/",
                    "payment_method_types": ["cash"],
                },
            },
            ["params", "payment_method_types", 0],
        ),
        ({"type": "portal.create", "account_ref": "a", "params": {}}, ["params", "return_url"]),
        (
            {
                "type": "subscription.change_plan",
                "account_ref": "a",
                "params": {"tier": "pro", "interval": "month", "when": "tomorrow"},
            },
            ["params", "when"],
        ),
        (
            {
                "type": "subscription.cancel",
                "account_ref": "a",
                "params": {"subscription_id": "in_123"},
            },
            ["params", "subscription_id"],
        ),
        (
            {"type": "subscription.resume", "account_ref": "a", "params": {"extra": 1}},
            ["params", "extra"],
        ),
        (
            {"type": "payment_method.attach", "account_ref": "a", "params": {}},
            ["params", "payment_method_id"],
        ),
        (
            {
                "type": "payment_method.detach",
                "account_ref": "a",
                "params": {"payment_method_id": "card_1"},
            },
            ["params", "payment_method_id"],
        ),
        (
            {"type": "payment_method.set_default", "account_ref": "a", "params": {}},
            ["params", "payment_method_id"],
        ),
        (
            {"type": "setup_intent.create", "account_ref": "a", "params": {"usage": "sometimes"}},
            ["params", "usage"],
        ),
        (
            {"type": "invoice.preview", "account_ref": "a", "params": {"tier": "pro"}},
            ["params", "interval"],
        ),
    ],
)
def test_invalid_commands_get_422_with_field_errors_and_leave_no_row(
    api: TestClient, commands: Commands, body: dict[str, object], loc: list[object]
) -> None:
    response = api.post("/v1/commands", json=body, headers={**AUTH, "Idempotency-Key": "bad"})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_command"
    field = ".".join(str(part) for part in loc)  # `fields` name each by its dotted path
    assert field in [e["field"] for e in response.json()["fields"]], response.json()
    from tests.support.db import count

    assert count(commands.rt.engine, "commands") == 0


def test_not_json_is_400(api: TestClient) -> None:
    headers = {**AUTH, "Idempotency-Key": "k"}
    assert api.post("/v1/commands", content=b"{nope", headers=headers).status_code == 400
    assert api.post("/v1/commands", json=[1], headers=headers).status_code == 400


def test_body_over_the_limit_is_413_and_leaves_no_row(api: TestClient, commands: Commands) -> None:
    headers = {**AUTH, "Idempotency-Key": "big"}
    big = {**ENSURE, "params": {"name": "x" * 70_000}}
    assert api.post("/v1/commands", json=big, headers=headers).status_code == 413

    def chunks() -> Iterator[bytes]:  # chunked, no Content-Length: counted while streamed
        yield b'{"type": "customer.ensure", "account_ref": "a", "params": {"name": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}}'

    assert api.post("/v1/commands", content=chunks(), headers=headers).status_code == 413
    from tests.support.db import count

    assert count(commands.rt.engine, "commands") == 0


def test_declared_oversize_body_is_refused_unread(api: TestClient) -> None:
    received: list[object] = []
    sent: list[Message] = []

    async def receive() -> Message:
        received.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = {**AUTH, "Idempotency-Key": "big", "Content-Length": str(10**7)}
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/commands",
        "raw_path": b"/v1/commands",
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": ("testserver", 80),
        "client": ("testclient", 1),
    }
    anyio.run(api.app, scope, receive, send)
    assert sent[0]["status"] == 413 and received == []


def test_wait_returns_as_soon_as_the_command_finishes(commands: Commands) -> None:
    command_id = commands.post("customer.ensure").json()["id"]
    assert commands.get(command_id)["status"] == "queued"
    runner = threading.Timer(0.5, commands.drive, args=[command_id])
    runner.start()
    started = time.monotonic()
    response = commands.api.get(f"/v1/commands/{command_id}?wait=10", headers=AUTH)
    elapsed = time.monotonic() - started
    runner.join()
    assert response.json()["status"] == "succeeded"
    assert 0.4 < elapsed < 5
    assert commands.api.get(f"/v1/commands/{command_id}?wait=31", headers=AUTH).status_code == 422
    assert commands.api.get("/v1/commands/cmd_nope", headers=AUTH).status_code == 404


def test_wait_gives_up_after_n_seconds(commands: Commands) -> None:
    command_id = commands.post("customer.ensure").json()["id"]
    started = time.monotonic()
    view = commands.api.get(f"/v1/commands/{command_id}?wait=0.5", headers=AUTH).json()
    assert view["status"] == "queued" and 0.4 < time.monotonic() - started < 3


def test_plans_are_the_catalog_in_cents(api: TestClient) -> None:
    plans = api.get("/v1/plans", headers=AUTH).json()["plans"]
    pro = next(p for p in plans if p["tier"] == "pro" and p["interval"] == "month")
    assert pro == {
        "tier": "pro",
        "interval": "month",
        "amount": 2900,
        "currency": "eur",
        "price_id": "price_pro_month",
        "credits_per_period": 4000,
    }


def test_openapi_covers_the_command_api() -> None:
    import ingest.app  # noqa: F401

    doc = build_document()
    post = doc["paths"]["/v1/commands"]["post"]
    assert {"202", "200", "400", "401", "403", "409", "422"} <= set(post["responses"])
    schemas = doc["components"]["schemas"]
    assert "CheckoutCreate" in schemas and "CustomerUpdateBillingDetails" in schemas
    assert "get" in doc["paths"]["/v1/commands/{id}"] and "get" in doc["paths"]["/v1/plans"]
