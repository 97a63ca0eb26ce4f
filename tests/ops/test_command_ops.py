"""Commands for ops: list/show/retry through the CLI and the ops API, stats and metrics."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine
from starlette.testclient import TestClient
from typer.testing import CliRunner

from domain.ops.command_retry import CommandRetryService
from domain.settings import Settings
from ingest.app import create_app
from tests.ops.metrics_support import sample
from tests.ops.support import Published
from tests.support.env import API_TOKEN
from tests.support.fake_stripe import FakeStripe
from workers.cli import cli
from workers.commands.runner import run_commands
from workers.runtime import Runtime, build_runtime
from workers.stripe_gateway import StripeGateway, make_gateway

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


class Setup:
    """The app, a runtime and a gateway on the fake Stripe; CLI retries publish into a list."""

    def __init__(self, api: TestClient, rt: Runtime, gateway: StripeGateway) -> None:
        self.api, self.rt, self.gateway = api, rt, gateway
        self.published = Published()
        self.n = 0

    def dead_command(self, fake: FakeStripe, account_ref: str = "acct_ops") -> str:
        """A customer.ensure whose only attempt (COMMAND_MAX_ATTEMPTS=1) hit a Stripe 500."""
        self.n += 1
        body = {"type": "customer.ensure", "account_ref": account_ref, "params": {}}
        headers = {**AUTH, "Idempotency-Key": f"ops-key-{self.n}"}
        response = self.api.post("/v1/commands", json=body, headers=headers)
        assert response.status_code == 202, response.text
        command_id = str(response.json()["id"])
        fake.fail_next("500", on="POST /v1/customers")  # the create, not the search
        run_commands(self.rt, [command_id], self.gateway)
        return command_id

    def view(self, command_id: str) -> dict[str, object]:
        return dict(self.api.get(f"/v1/commands/{command_id}", headers=AUTH).json())


@pytest.fixture
def setup(
    stripe_settings: Settings, db: Engine, quiet_logs: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Setup]:
    rt = build_runtime(stripe_settings)
    with TestClient(create_app(stripe_settings, publish=Published())) as api:
        s = Setup(api, rt, make_gateway(stripe_settings))
        for module in ("commands", "stats"):
            monkeypatch.setattr(f"workers.ops_cli.{module}.engine", lambda: db)
        monkeypatch.setattr(
            "workers.ops_cli.commands.make_retry_service",
            lambda: CommandRetryService(db, s.published),
        )
        yield s
    rt.engine.dispose()


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout


def stripe_calls(endpoint: str, status: str) -> float:
    labels = {"endpoint": endpoint, "status": status}
    return REGISTRY.get_sample_value("billing_stripe_api_request_seconds_count", labels) or 0.0


def test_dead_command_is_visible_and_a_cli_retry_succeeds(
    setup: Setup, fake: FakeStripe, db: Engine
) -> None:
    errors = REGISTRY.get_sample_value(
        "billing_stripe_api_errors_total", {"endpoint": "customer.create", "kind": "api_error"}
    )
    ok_calls = stripe_calls("customer.create", "200")
    command_id = setup.dead_command(fake)
    assert setup.view(command_id)["status"] == "dead"
    assert (
        REGISTRY.get_sample_value(
            "billing_stripe_api_errors_total", {"endpoint": "customer.create", "kind": "api_error"}
        )
        == (errors or 0) + 1
    )

    code, output = invoke("commands", "list", "--status", "dead")
    assert code == 0 and command_id in output and "api_error" in output
    [row] = orjson.loads(invoke("commands", "list", "--json", "--type", "customer.ensure")[1])
    assert row["id"] == command_id and row["status"] == "dead"
    code, output = invoke("commands", "show", command_id)
    assert code == 0 and "dead" in output and "retries by ops" in output
    snap = orjson.loads(invoke("stats", "--json")[1])
    assert snap["dead_commands"] == 1
    assert snap["commands_by_status"]["customer.ensure"]["dead"] == 1
    assert "dead commands: 1" in invoke("stats")[1]
    scrape = setup.api.get("/metrics").text
    assert sample(scrape, "billing_commands", type="customer.ensure", status="dead") == 1

    code, output = invoke("commands", "retry", "--all-dead", "--dry-run", "--json")
    assert code == 0 and orjson.loads(output)["by_type"] == {"customer.ensure": 1}
    assert setup.view(command_id)["status"] == "dead" and setup.published.ids == []
    code, output = invoke("commands", "retry", command_id, "--reason", "stripe outage", "--json")
    result = orjson.loads(output)
    assert code == 0 and result["retried"] == [command_id] and result["audit_id"]
    assert setup.published.ids == [command_id]
    view = setup.view(command_id)
    assert (view["status"], view["attempts"]) == ("queued", 0)

    run_commands(setup.rt, [command_id], setup.gateway)
    view = setup.view(command_id)
    assert view["status"] == "succeeded" and fake.created("customer") == 1
    assert stripe_calls("customer.create", "200") == ok_calls + 1
    detail = orjson.loads(invoke("commands", "show", command_id, "--json")[1])
    assert [r["reason"] for r in detail["retries"]] == ["stripe outage"]
    code, output = invoke("commands", "retry", command_id, "--json")
    assert code == 1 and "succeeded" in orjson.loads(output)["skipped"][command_id]
    assert invoke("commands", "retry")[0] == 2  # neither ids nor --all-dead
    assert invoke("commands", "show", "cmd_nope")[0] == 1


def test_ops_api_lists_shows_and_retries_commands(setup: Setup, fake: FakeStripe) -> None:
    api = setup.api
    first = setup.dead_command(fake, "acct_a")
    second = setup.dead_command(fake, "acct_b")
    page = api.get("/v1/ops/commands", params={"status": "dead", "limit": 1}, headers=AUTH)
    assert page.status_code == 200
    assert [r["id"] for r in page.json()["data"]] == [second]
    before = page.json()["next_before"]
    rest = api.get("/v1/ops/commands", params={"before": before}, headers=AUTH).json()
    assert [r["id"] for r in rest["data"]] == [first]
    assert api.get("/v1/ops/commands", params={"status": "nope"}, headers=AUTH).status_code == 422
    detail = api.get(f"/v1/ops/commands/{first}", headers=AUTH).json()
    assert detail["error"]["type"] == "api_error" and detail["status"] == "dead"
    assert api.get("/v1/ops/commands/cmd_nope", headers=AUTH).status_code == 404

    dry = api.post(f"/v1/ops/commands/{first}/retry", json={"dry_run": True}, headers=AUTH)
    assert dry.status_code == 200 and dry.json()["count"] == 1
    retried = api.post(f"/v1/ops/commands/{first}/retry", json={"reason": "r"}, headers=AUTH)
    assert retried.status_code == 200 and retried.json()["retried"] == [first]
    run_commands(setup.rt, [first], setup.gateway)
    assert setup.view(first)["status"] == "succeeded"
    again = api.post(f"/v1/ops/commands/{first}/retry", headers=AUTH)
    assert again.status_code == 409
    assert api.post("/v1/ops/commands/cmd_nope/retry", headers=AUTH).status_code == 404
    retries = api.get(f"/v1/ops/commands/{first}", headers=AUTH).json()["retries"]
    assert [(r["via"], r["reason"]) for r in retries] == [("api", "r")]
    stats = api.get("/v1/ops/stats", headers=AUTH).json()
    assert stats["dead_commands"] == 1
