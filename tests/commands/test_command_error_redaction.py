"""Stored command errors carry no personal data, whoever wrote the message (Stripe or us)."""

from __future__ import annotations

import secrets
from typing import Any

import orjson
import structlog
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from tests.commands.conftest import AUTH, Commands
from workers.commands.context import ExecContext, Outcome
from workers.commands.executors import EXECUTORS
from workers.commands.runner import run_commands


def stored(db: Engine, command_id: str) -> str:
    """The command's row without its params (the product's own input, kept to run it)."""
    with db.connect() as conn:
        return str(
            conn.execute(
                text("SELECT (to_jsonb(c) - 'params')::text FROM commands c WHERE id = :i"),
                {"i": command_id},
            ).scalar_one()
        )


def test_stripe_error_echoing_the_email_is_stored_without_it(
    commands: Commands, api: TestClient, db: Engine
) -> None:
    email = f"ann..{secrets.token_hex(4)}@example.com"  # our check lets it pass; Stripe's not
    view = commands.run("customer.ensure", email=email, name="Ann")
    assert view["status"] == "failed", view
    assert view["error"]["code"] == "email_invalid" and view["error"]["param"] == "email"
    assert view["error"]["message"] == "Invalid email address: [redacted]"
    ops = api.get(f"/v1/ops/commands/{view['id']}", headers=AUTH)
    assert ops.status_code == 200, ops.text
    for where in (orjson.dumps(view["error"]).decode(), ops.text, stored(db, view["id"])):
        assert email not in where, where


def test_a_crash_quoting_params_is_stored_and_logged_without_them(
    commands: Commands, db: Engine
) -> None:
    name = f"Jan Geheim {secrets.token_hex(4)}"

    def crashes(ctx: ExecContext, p: Any) -> Outcome:
        raise KeyError(p.name)  # a bug that repeats the value it choked on

    response = commands.post("customer.ensure", name=name)
    assert response.status_code == 202, response.text
    command_id = response.json()["id"]
    executors = {**EXECUTORS, "customer.ensure": crashes}
    with structlog.testing.capture_logs() as logs:
        for _ in range(10):
            run_commands(commands.rt, [command_id], commands.gateway, executors)
            if commands.get(command_id)["status"] == "dead":
                break
            with db.begin() as conn:
                conn.execute(text("UPDATE commands SET next_attempt_at = now()"))
    view = commands.get(command_id)
    assert view["status"] == "dead", view
    assert view["error"]["code"] == "KeyError"
    assert view["error"]["message"] == "'[redacted]'"
    crashed = [e for e in logs if e["event"] == "command.crashed"]
    assert crashed and "KeyError" in crashed[0]["exception"], logs
    assert "raise KeyError(p.name)" in crashed[0]["exception"]  # our code line is kept
    for where in (orjson.dumps(view["error"]).decode(), stored(db, command_id), str(logs)):
        assert name not in where, where
