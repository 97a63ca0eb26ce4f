"""Data the console tests look at: one account's lifecycle, a command, two issues."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import orjson
from sqlalchemy import Engine, insert, text
from starlette.testclient import TestClient

from domain.event_log import DEAD, EVENTS
from domain.ops.attempts import ATTEMPTS
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


def sign_in(client: TestClient, token: str = API_TOKEN, next_path: str = "/ops") -> httpx.Response:
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


TRACEBACK = """Traceback (most recent call last):
  File "/app/workers/processor.py", line 212, in _apply
    registration.handler(unit, event)
  File "/app/domain/mirror/families/invoices.py", line 188, in apply_invoice
    plan = unit.catalog.plan_for(view.price_id)
  File "/app/domain/plans.py", line 97, in plan_for
    raise UnknownPrice(f"no plan in the catalog for price {{price_id}}")
domain.plans.UnknownPrice: no plan in the catalog for price {price}
"""


def realistic_history(engine: Engine, now: datetime) -> None:
    """An hour of traffic like production's: ~600 processed events spread over the hour,
    failed attempts, and two issues (12 invoices on an unknown price, 5 lock timeouts)."""
    events, dead, attempts = [], [], []

    def add(n: int, event_type: str, minute: int, status: str, obj: str) -> str:
        event_id = f"evt_1Q{n:06d}Hist{minute:02d}"
        body = {"id": event_id, "type": event_type, "data": {"object": {"id": obj}}}
        events.append(
            {
                "event_id": event_id,
                "type": event_type,
                "api_version": "2025-03-31.basil",
                "livemode": True,
                "object_type": event_type.split(".")[0],
                "object_id": obj,
                "event_created": int((now - timedelta(minutes=minute)).timestamp()),
                "raw_body": orjson.dumps(body).decode(),
                "source": "webhook",
                "received_at": now - timedelta(minutes=minute, seconds=n % 50),
                "status": status,
                "attempts": 1 if status == "processed" else 8,
                "processed_at": now - timedelta(minutes=minute) if status == "processed" else None,
            }
        )
        return event_id

    n = 0
    for minute in range(60):
        for _ in range(6 + (minute * 7) % 13):
            n += 1
            add(n, ("invoice.paid", "customer.subscription.updated")[n % 2], minute, "processed",
                f"in_1Q{n:06d}")  # fmt: skip
    for i in range(17):
        n += 1
        minute = 3 + i * 3
        if i < 12:
            price = f"price_1Q{i:04d}Legacy"
            event_id = add(n, "invoice.paid", minute, "dead", f"in_1QDead{i:04d}")
            error = ("UnknownPrice", f"no plan in the catalog for price {price}")
            trace = TRACEBACK.format(price=price)
        else:
            event_id = add(n, "customer.subscription.updated", minute, "dead", f"sub_1Q{i:04d}")
            error = ("LockTimeout", f"canceling statement due to lock timeout on sub_1Q{i:04d}")
            trace = f"Traceback (most recent call last):\n  ...\nLockTimeout: {error[1]}\n"
        failed = now - timedelta(minutes=minute)
        dead.append(
            {
                "event_id": event_id,
                "failed_at": failed,
                "attempts": 8,
                "error_type": error[0],
                "error_message": error[1],
                "traceback": trace,
            }
        )
        for attempt in range(1, 9):
            attempts.append(
                {
                    "event_id": event_id,
                    "attempt": attempt,
                    "failed_at": failed - timedelta(minutes=min(8 - attempt, minute)),
                    "error_type": error[0],
                    "message": error[1],
                }
            )
    with engine.begin() as conn:
        conn.execute(insert(EVENTS), events)
        conn.execute(insert(DEAD), dead)
        conn.execute(insert(ATTEMPTS), attempts)
