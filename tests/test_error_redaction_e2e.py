"""A customer event that fails to store leaves no personal data in stored errors or logs.

Real processes (uvicorn, a Celery worker, the sweeper): the event's postal code is longer
than its column, so the UPDATE fails in Postgres on every attempt until the event is dead,
is replayed by ops and dies again. Then every table (but the raw event body itself), every
ops API view and every log line is searched for the customer's e-mail, name and address.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine, text

from domain.samples import build_event, example_object, new_id
from tests.support.db import event_row
from tests.support.env import API_TOKEN, service_env
from tests.support.processes import Proc, start_server, start_sweeper, start_worker, wait_until
from tests.support.stripe_events import signed_headers

pytestmark = pytest.mark.slow
OPS = {"Authorization": f"Bearer {API_TOKEN}"}


class Stack:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.server, self.url = start_server(env, log_dir)
        self.worker = start_worker(env, log_dir, concurrency=1)
        self.sweeper = start_sweeper(env, log_dir)
        self.client = httpx.Client(base_url=self.url, headers=OPS, timeout=20)

    def procs(self) -> list[Proc]:
        return [self.server, self.worker, self.sweeper]

    def logs(self) -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.output()}" for p in self.procs())

    def stop(self) -> None:
        self.client.close()
        for proc in self.procs():
            proc.stop()


@pytest.fixture
def stack(db: Engine, broker: object, log_dir: Path) -> Iterator[Stack]:
    s = Stack(service_env(RETRY_MAX_ATTEMPTS="2", LOG_LEVEL="DEBUG"), log_dir)
    yield s
    s.stop()


def personal_customer() -> tuple[dict[str, Any], list[str]]:
    """A customer whose postal code cannot be stored, and the personal values in it."""
    tag = secrets.token_hex(4)
    email = f"leak.{tag}@example.com"
    name = f"Zebulon Quixote {tag}"
    line1 = f"Geheimstraat {tag} 17"
    postal = f"PC{tag}" * 10  # 100 characters: postal_code is VARCHAR(64)
    phone, city, note = f"+31 6 {tag}", f"Stad{tag}", f"private note {tag}"
    customer = example_object("customer")
    customer.update(
        id=new_id("cus"),
        email=email,
        name=name,
        phone=phone,
        metadata={"account_ref": f"acct_{tag}", "note": note},
        address={
            "line1": line1,
            "line2": None,
            "postal_code": postal,
            "city": city,
            "state": None,
            "country": "NL",
        },
    )
    return customer, [email, name, line1, postal, city, note, phone]


def _dead(db: Engine, event_id: str, replays: int = 0) -> bool:
    row = event_row(db, event_id)
    if row is None or row["status"] != "dead":
        return False
    with db.connect() as conn:
        count = conn.execute(
            text("SELECT replay_count FROM dead_letters WHERE event_id = :e"), {"e": event_id}
        ).scalar_one_or_none()
    return count == replays


def every_table_as_text(db: Engine) -> dict[str, str]:
    """Each table's rows as JSON text; the raw event body is the one place payloads live."""
    with db.connect() as conn:
        tables = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ).scalars()
        dumps = {}
        for table in list(tables):
            rows = conn.execute(
                text(f"SELECT (to_jsonb(t) - 'raw_body')::text FROM \"{table}\" t")
            ).scalars()
            dumps[table] = "\n".join(rows)
    return dumps


def test_a_customer_that_fails_to_store_leaves_no_personal_data_behind(
    stack: Stack, db: Engine
) -> None:
    customer, personal = personal_customer()
    event_id = new_id("evt")
    body = orjson.dumps(build_event("customer.created", customer, event_id=event_id))
    response = httpx.post(
        f"{stack.url}/webhooks/stripe", content=body, headers=signed_headers(body), timeout=10
    )
    assert response.status_code == 200, response.text
    assert wait_until(lambda: _dead(db, event_id), 60), stack.logs()

    replay = stack.client.post(
        f"/v1/ops/dead-letters/{event_id}/replay", json={"reason": "check redaction"}
    )
    assert replay.status_code == 200, replay.text
    assert wait_until(lambda: _dead(db, event_id, replays=1), 60), stack.logs()

    # Still useful for debugging: the error type, Postgres' reason, the SQL, our code lines.
    detail = stack.client.get(f"/v1/ops/dead-letters/{event_id}")
    assert detail.status_code == 200, detail.text
    letter = detail.json()
    assert letter["error_type"] == "DataError"
    assert "value too long for type character varying(64)" in letter["error_message"]
    assert "UPDATE billing_accounts" in letter["error_message"]
    assert "domain/mirror/families/customers.py" in letter["traceback"]
    assert customer["id"] in orjson.dumps(letter).decode()  # ids are kept

    views = {
        "dead letter": detail.text,
        "event": stack.client.get(f"/v1/ops/events/{event_id}").text,
        "events": stack.client.get("/v1/ops/events").text,
        "dead letters": stack.client.get("/v1/ops/dead-letters?include_replayed=true").text,
        "stats": stack.client.get("/v1/ops/stats").text,
        **{f"table {name}": dump for name, dump in every_table_as_text(db).items()},
        **{f"log {p.log_path.name}": p.output() for p in stack.procs()},
    }
    assert letter["attempt_history"], letter
    assert any("event.dead" in v for k, v in views.items() if k.startswith("log")), stack.logs()
    leaks = {
        where: [value for value in personal if value.lower() in content.lower()]
        for where, content in views.items()
    }
    assert {where: found for where, found in leaks.items() if found} == {}
