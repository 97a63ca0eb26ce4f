"""Data the console tests look at: one account's lifecycle, a command, two issues."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from tests.mirror import factory as f
from tests.ops.support import dead_letters, runtime_with
from tests.read.support import Pipeline
from tests.support.env import API_TOKEN
from workers.runtime import Runtime

T0 = 1_730_000_000
ACCT, CUS, SUB = "org_42", "cus_console", "sub_console"
READ_TOKEN = "reader-token-console-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Seeded:
    account_events: list[str] = field(default_factory=list)
    command_id: str = ""
    fixable: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)


def seed_account(pipe: Pipeline) -> list[str]:
    """Customer, card, subscription and two invoices of org_42, processed by the real code."""
    events = [
        f.event("customer.created", f.customer(CUS, account_ref=ACCT, default_pm="pm_con"), T0),
        f.event("payment_method.attached", f.payment_method("pm_con", CUS), T0 + 1),
        f.event(
            "customer.subscription.created",
            f.subscription(SUB, CUS, "active", period=(T0, T0 + 30 * f.DAY)),
            T0 + 2,
        ),
        f.event("invoice.paid", f.invoice("in_con1", CUS, SUB, "paid", created=T0 + 3), T0 + 3),
        f.event(
            "invoice.finalized", f.invoice("in_con2", CUS, SUB, "open", created=T0 + 4), T0 + 4
        ),
    ]
    pipe.deliver(*events)
    return [e["id"] for e in events]


def dead_command(client: TestClient, engine: Engine) -> str:
    """A customer.ensure of org_42 marked dead (as if Stripe kept answering 500)."""
    body = {"type": "customer.ensure", "account_ref": ACCT, "params": {}}
    answer = client.post(
        "/v1/commands", json=body, headers={**AUTH, "Idempotency-Key": "console-1"}
    )
    assert answer.status_code == 202, answer.text
    command_id = str(answer.json()["id"])
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE commands SET status = 'dead', attempts = 8, last_error = 'api_error'"
                " WHERE id = :i"
            ),
            {"i": command_id},
        )
    return command_id


def seed(client: TestClient, runtime: Runtime, engine: Engine) -> Seeded:
    """Everything the pages show: an account, a dead command, two issues (3 + 1 dead)."""
    seeded = Seeded(account_events=seed_account(Pipeline(client, runtime)))
    seeded.command_id = dead_command(client, engine)
    with runtime_with(1) as rt:
        seeded.fixable = dead_letters(rt, 3)
        seeded.other = dead_letters(rt, 1, "test.other")
    return seeded


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def sign_in(client: TestClient, token: str = API_TOKEN, next_path: str = "/ops") -> object:
    form = client.get("/ops/login")
    return client.post(
        "/ops/login",
        data={"csrf_token": csrf_of(form.text), "token": token, "next": next_path},
        follow_redirects=False,
    )


def event_statuses(engine: Engine, ids: list[str]) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT event_id, status FROM stripe_events WHERE event_id = ANY(:ids)"),
            {"ids": ids},
        )
        return {e: s for e, s in rows}
