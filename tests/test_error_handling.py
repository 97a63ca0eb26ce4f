"""Unexpected errors: a JSON 500 with a request id, the traceback in the log (never the body);
a database outage is a 503; every log line of a request carries its request id."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest
import structlog
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient
from structlog.typing import EventDict, Processor

import ingest.app
import ingest.openapi
from domain.logs import configure_logging
from domain.settings import Settings
from ingest.app import create_app
from tests.support.stripe_events import event_body, signed_headers

SECRET_LOOKING = "cus_personal_jane@example.com"


def log_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                lines.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
    return lines


@pytest.fixture
def logs(settings: Settings) -> Iterator[list[EventDict]]:
    """The event dicts logged meanwhile, context and tracebacks rendered as in production."""
    configure_logging(settings.log_format, settings.log_level)  # once; the app's is a no-op
    rendering: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.format_exc_info,
    ]
    with structlog.testing.capture_logs(processors=rendering) as entries:
        yield entries


def _errors(route: str, error: str) -> float:
    labels = {"route": route, "error": error}
    return REGISTRY.get_sample_value("billing_http_errors_total", labels) or 0.0


@pytest.fixture
def failing_healthz(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """/healthz raises whatever the test puts in the list."""
    raised: list[BaseException] = []

    async def healthz(request: Request) -> Response:
        raise raised[0]

    monkeypatch.setattr(ingest.app, "healthz", healthz)
    return raised


@pytest.fixture
def client(
    settings: Settings, failing_healthz: list[BaseException], logs: list[EventDict]
) -> Iterator[TestClient]:
    with TestClient(create_app(settings, publish=lambda ids: None)) as c:
        yield c


def test_an_unhandled_error_is_a_json_500_with_the_traceback_only_in_the_log(
    client: TestClient, failing_healthz: list[BaseException], logs: list[EventDict]
) -> None:
    failing_healthz.append(RuntimeError(f"bug while handling {SECRET_LOOKING}"))
    before = _errors("/healthz", "internal_error")
    response = client.get("/healthz")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == "internal_error"
    assert body["message"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert SECRET_LOOKING not in response.text
    assert "Traceback" not in response.text
    assert _errors("/healthz", "internal_error") == before + 1
    lines = [e for e in logs if e["event"] == "http.unhandled_error"]
    assert len(lines) == 1, "logged exactly once"
    line = lines[0]
    assert line["level"] == "error"
    assert line["request_id"] == body["request_id"]
    assert line["route"] == "/healthz"
    assert line["exception"].startswith("Traceback (most recent call last)")
    assert "RuntimeError" in line["exception"]
    assert "in healthz" in line["exception"]  # the frame that raised


def test_a_lost_database_connection_is_a_json_503(
    client: TestClient, failing_healthz: list[BaseException]
) -> None:
    failing_healthz.append(
        OperationalError(
            "SELECT 1", {}, psycopg.OperationalError("server closed the connection unexpectedly")
        )
    )
    before = _errors("/healthz", "database_unavailable")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["error"] == "database_unavailable"
    assert response.json()["request_id"] == response.headers["x-request-id"]
    assert _errors("/healthz", "database_unavailable") == before + 1


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        pytest.param("req-0123_abc.DEF:9", True, id="sane"),
        pytest.param("a" * 129, False, id="too-long"),
        pytest.param("has space", False, id="space"),
        pytest.param("new\u00e9line", False, id="non-ascii"),
        pytest.param("", False, id="empty"),
    ],
)
def test_a_sane_incoming_request_id_is_kept_else_one_is_made(
    settings: Settings, incoming: str, kept: bool
) -> None:
    with TestClient(create_app(settings, publish=lambda ids: None)) as c:
        response = c.get("/healthz", headers={"X-Request-Id": incoming.encode("latin-1")})
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    if kept:
        assert request_id == incoming
    else:
        assert request_id != incoming
        assert len(request_id) == 32 and int(request_id, 16) >= 0


def test_every_log_line_of_a_request_carries_its_request_id(
    settings: Settings, logs: list[EventDict]
) -> None:
    _, body = event_body()
    with TestClient(create_app(settings, publish=lambda ids: None)) as c:
        ok = c.post("/webhooks/stripe", content=body, headers=signed_headers(body))
        bad = c.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": "t=1,v1=0"})
    assert ok.status_code == 200 and bad.status_code == 400
    lines = {e["event"]: e for e in logs}
    assert lines["webhook.accepted"]["request_id"] == ok.headers["x-request-id"]
    assert lines["webhook.rejected"]["request_id"] == bad.headers["x-request-id"]


def test_a_bug_on_the_store_path_is_logged_with_its_traceback(
    settings: Settings, logs: list[EventDict]
) -> None:
    _, body = event_body()
    with TestClient(create_app(settings, publish=lambda ids: None)) as c:

        async def broken_store(event: object) -> bool:
            raise TypeError("a bug in the store path")

        c.app.state.writer.store = broken_store  # type: ignore[attr-defined]
        response = c.post("/webhooks/stripe", content=body, headers=signed_headers(body))
    assert response.status_code == 503
    assert response.json()["error"] == "storage_unavailable"
    (line,) = [e for e in logs if e["event"] == "webhook.store_failed"]
    assert "TypeError: a bug in the store path" in line["exception"]


def test_a_failed_insert_is_logged_with_its_traceback_by_the_writer(
    settings: Settings, logs: list[EventDict]
) -> None:
    broken = settings.model_copy(
        update={"database_url": "postgresql+psycopg://127.0.0.1:1/nowhere"}
    )
    _, body = event_body()
    with TestClient(create_app(broken, publish=lambda ids: None)) as c:
        response = c.post("/webhooks/stripe", content=body, headers=signed_headers(body))
    assert response.status_code == 503
    lines = list(logs)
    (writer_line,) = [e for e in lines if e["event"] == "ingest.store_failed"]
    assert writer_line["exception"].startswith("Traceback (most recent call last)")
    assert "OperationalError" in writer_line["exception"]
    (webhook_line,) = [e for e in lines if e["event"] == "webhook.store_failed"]
    assert webhook_line["error_type"] == "OperationalError"
    assert "exception" not in webhook_line  # the writer logged it once


def test_standard_library_records_get_a_full_traceback_not_a_repr() -> None:
    program = (
        "import logging\n"
        "from domain.logs import configure_logging\n"
        "configure_logging('json')\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError:\n"
        "    logging.getLogger('uvicorn.error').exception('Exception in ASGI application')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    (line,) = log_lines(result.stderr)
    assert "exc_info" not in line
    assert line["exception"].startswith("Traceback (most recent call last)")
    assert "ZeroDivisionError: division by zero" in line["exception"]


def test_the_openapi_document_declares_the_500_on_every_operation() -> None:
    document = ingest.openapi.build_document()
    error_body = document["components"]["schemas"]["ErrorBody"]
    assert "request_id" in error_body["properties"]
    assert "request_id" not in error_body.get("required", [])
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            declared = operation["responses"].get("500")
            assert declared is not None, f"{method.upper()} {path}"
            schema = declared["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}


def test_unknown_paths_and_wrong_methods_get_the_json_error_shape(client: TestClient) -> None:
    missing = client.get("/v1/nowhere")
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "no such route"}
    wrong = client.delete("/webhooks/stripe")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"
    assert wrong.headers["allow"] == "POST"
    assert wrong.headers["x-request-id"]
