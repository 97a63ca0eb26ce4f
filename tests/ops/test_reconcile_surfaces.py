"""`billing reconcile` and `POST /v1/ops/reconcile`: drift reported, repaired, bad input 4xx."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient
from typer.testing import CliRunner

from domain.settings import Settings
from ingest.app import create_app
from tests.families.support import DEPS
from tests.ops.backfill_support import READER
from tests.ops.reconcile_support import Drift, drifted
from tests.ops.support import Published
from tests.support.env import API_TOKEN
from tests.support.fake_stripe import FakeStripe
from workers.cli import cli
from workers.reconcile import reconcile_service

OPS = {"Authorization": f"Bearer {API_TOKEN}"}


@pytest.fixture
def drift(fake: FakeStripe, db: Engine) -> Drift:
    return drifted(fake, db)


@pytest.fixture
def cli_stripe(
    stripe_settings: Settings, db: Engine, quiet_logs: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's reconcile reads the fake Stripe."""
    monkeypatch.setattr(
        "workers.ops_cli.reconcile.make_reconcile",
        lambda page_size: reconcile_service(
            db, stripe_settings, DEPS, page_size=page_size, retry_delay=0.01
        ),
    )


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["reconcile", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_reports_drift_repairs_it_and_then_reports_none(cli_stripe: None, drift: Drift) -> None:
    code, stdout, _ = invoke("--since", "1d", "--json")
    assert code == 1  # drift found and left as it is
    report = orjson.loads(stdout)
    found = {(f["kind"], f["object_id"]): f["outcome"] for f in report["findings"]}
    assert found == drift.expected() and report["drift"] == 9
    assert "@" not in stdout

    code, stdout, _ = invoke("--since", "1d")  # the table names the field, hides the value
    assert code == 1 and "email: [redacted] -> [redacted]" in stdout
    assert "status: trialing -> active" in stdout and "@" not in stdout

    code, stdout, _ = invoke("--since", "1d", "--repair", "--reason", "lost webhooks", "--yes")
    assert code == 0, stdout
    assert "repaired" in stdout and drift.stale_subscription in stdout

    code, stdout, _ = invoke("--since", "1d", "--objects", "customers,subscriptions", "--json")
    report = orjson.loads(stdout)
    assert code == 0 and report["drift"] == 0
    assert report["kinds"] == ["customers", "subscriptions"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "yesterday-ish"], "--since"),
        (["--objects", "subscriptions,widgets"], "widgets"),
        (["--repair", "--yes"], "--reason"),
        (["--resume", "--repair"], "--resume"),
    ],
)
def test_cli_bad_input_is_a_usage_error(
    cli_stripe: None, args: list[str], says: str, fake: FakeStripe
) -> None:
    code, stdout, stderr = invoke(*args)
    assert code == 2 and says in stderr + stdout
    assert fake.calls("GET", "/v1/") == 0  # refused before anything was fetched


@pytest.fixture
def api(stripe_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(stripe_settings, publish=Published())) as c:
        yield c


def test_api_reports_then_repairs_in_slices(api: TestClient, drift: Drift) -> None:
    answer = api.post("/v1/ops/reconcile", json={"since": "1d"}, headers=OPS)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["complete"] and body["drift"] == 9 and body["repaired"] == 0
    assert {(f["kind"], f["object_id"]) for f in body["findings"]} == set(drift.expected())

    sliced = {"since": "1d", "repair": True, "reason": "incident 12", "max_pages": 2}
    answer = api.post("/v1/ops/reconcile", json={**sliced, "page_size": 2}, headers=OPS)
    body = answer.json()
    assert answer.status_code == 200 and not body["complete"] and body["stopped"] == "max_pages"
    while not body["complete"]:
        resume = {"resume": True, "reason": "incident 12"}
        body = api.post("/v1/ops/reconcile", json=resume, headers=OPS).json()
    assert body["repaired"] == 9

    again = api.post("/v1/ops/reconcile", json={"since": "1d"}, headers=OPS).json()
    assert again["drift"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"since": "yesterday-ish"}, "since"),
        ({"objects": ["widgets"]}, "objects"),
        ({"repair": True}, "reason"),
        ({"repair": True, "reason": "  "}, "reason"),
        ({"resume": True, "objects": ["invoices"]}, "resume"),
        ({"resume": True}, "resume"),  # nothing to resume
        ({"max_pages": 0}, "max_pages"),
    ],
)
def test_api_bad_input_is_422_naming_the_field(
    api: TestClient, body: dict[str, object], field: str, fake: FakeStripe
) -> None:
    answer = api.post("/v1/ops/reconcile", json=body, headers=OPS)
    assert answer.status_code == 422, answer.text
    error = answer.json()
    assert error["error"] == "invalid_request"
    assert field in [f["field"].removeprefix("body.").split(".")[0] for f in error["fields"]]
    assert "widgets" not in answer.text and "yesterday" not in answer.text  # input not echoed
    assert fake.calls("GET", "/v1/") == 0


def test_api_needs_the_ops_scope(api: TestClient) -> None:
    reader = {"Authorization": f"Bearer {READER}"}
    assert api.post("/v1/ops/reconcile", json={}, headers=reader).status_code == 403
    assert api.post("/v1/ops/reconcile", json={}).status_code == 401
