"""Failed events store and log scrubbed errors (in-process on real Postgres).

The handlers here fail the ways real ones do: Postgres quoting the failing row, a
`ValueError` repeating a payload value, a chained `KeyError`. Whatever the exception says,
stripe_events, event_attempts, dead_letters, the ops views and the log lines carry ids,
types and code lines, never the customer's e-mail, name or address.
"""

from __future__ import annotations

import secrets
from typing import Any

import orjson
import pytest
import structlog
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from domain import event_log
from domain.db import make_engine
from domain.envelope import EventEnvelope, parse_envelope
from domain.event_log import NewEvent
from domain.mirror.unit import Registration, Unit
from domain.ops import queries
from domain.samples import build_event, example_object, new_id
from domain.types import utcnow
from tests.support.env import TEST_DATABASE_URL
from workers.processor import process_events
from workers.runtime import Runtime


def customer_event(rt: Runtime) -> tuple[str, dict[str, Any]]:
    tag = secrets.token_hex(4)
    customer = example_object("customer")
    customer.update(
        id=new_id("cus"),
        email=f"private.{tag}@example.org",
        name=f"Ann Private {tag}",
        address={"line1": f"Secret Lane {tag}", "postal_code": f"ZZ {tag}", "country": "NL"},
        metadata={"account_ref": f"acct_{tag}"},
    )
    event_id = new_id("evt")
    raw = orjson.dumps(build_event("customer.created", customer, event_id=event_id))
    with rt.engine.begin() as conn:
        event_log.insert_events(conn, [NewEvent(parse_envelope(raw), raw.decode())], utcnow())
    return event_id, customer


def violates_a_constraint(unit: Unit, event: EventEnvelope) -> None:
    """An account row with neither reference: Postgres says "Failing row contains (...)"."""
    obj = event.object
    unit.session.execute(
        text(
            "INSERT INTO billing_accounts (email, name, address_line1, created_at, updated_at)"
            " VALUES (:email, :name, :line1, now(), now())"
        ),
        {"email": obj["email"], "name": obj["name"], "line1": obj["address"]["line1"]},
    )


def echoes_the_payload(unit: Unit, event: EventEnvelope) -> None:
    """A chained error whose messages repeat payload values (as KeyError/ValueError do)."""
    obj = event.object
    try:
        {}[obj["name"]]
    except KeyError as exc:
        raise ValueError(f"cannot file {obj['address']!r} for {obj['email']}") from exc


def run_until_dead(rt: Runtime, db: Engine, event_id: str, handler: Any) -> None:
    registry = {"customer.created": Registration(handler)}
    for _ in range(rt.retry_policy.max_attempts):
        process_events(rt, [event_id], registry)
        with db.begin() as conn:
            conn.execute(
                text("UPDATE stripe_events SET next_attempt_at = now() WHERE event_id = :e"),
                {"e": event_id},
            )
    with db.connect() as conn:
        status = conn.execute(
            text("SELECT status FROM stripe_events WHERE event_id = :e"), {"e": event_id}
        ).scalar_one()
    assert status == "dead"


def stored_errors(db: Engine, event_id: str) -> str:
    with db.connect() as conn:
        rows = [
            conn.execute(
                text(f"SELECT (to_jsonb(t) - 'raw_body')::text FROM {table} t WHERE event_id = :e"),
                {"e": event_id},
            ).scalars()
            for table in ("stripe_events", "event_attempts", "dead_letters")
        ]
        texts = [r for rs in rows for r in rs]
        ops = [
            queries.get_event(conn, event_id),
            queries.get_dead_letter(conn, event_id),
            queries.list_dead_letters(conn, queries.DeadLetterFilter(None, None, None)),
        ]
    return "\n".join(texts) + orjson.dumps(ops, default=str).decode()


def personal(customer: dict[str, Any]) -> list[str]:
    address = customer["address"]
    return [customer["email"], customer["name"], address["line1"], address["postal_code"]]


@pytest.mark.parametrize(
    ("handler", "error_type", "useful"),
    [
        (
            violates_a_constraint,
            "IntegrityError",
            'violates check constraint "ck_billing_accounts_identified"',
        ),
        (echoes_the_payload, "ValueError", "raise ValueError(f\"cannot file {obj['address']!r}"),
    ],
)
def test_stored_and_logged_errors_carry_no_personal_data(
    runtime: Runtime, db: Engine, handler: Any, error_type: str, useful: str
) -> None:
    event_id, customer = customer_event(runtime)
    with structlog.testing.capture_logs() as logs:
        run_until_dead(runtime, db, event_id, handler)
    stored = stored_errors(db, event_id)
    logged = orjson.dumps(logs, default=str).decode()
    for value in personal(customer):
        assert value.lower() not in stored.lower(), (value, stored)
        assert value.lower() not in logged.lower(), (value, logged)
    with db.connect() as conn:
        dead = conn.execute(
            text("SELECT * FROM dead_letters WHERE event_id = :e"), {"e": event_id}
        ).one()
    assert dead.error_type == error_type
    # The code line or Postgres' reason is still there.
    assert useful in dead.traceback, dead.traceback
    assert "[redacted]" in dead.error_message
    assert any(e["event"] == "event.dead" for e in logs), logs


def test_engines_hide_bound_parameters(db: Engine) -> None:
    engine = make_engine(TEST_DATABASE_URL, pool_size=1)
    try:
        with engine.connect() as conn, pytest.raises(IntegrityError) as caught:
            conn.execute(
                text(
                    "INSERT INTO billing_accounts (email, created_at, updated_at)"
                    " VALUES (:email, now(), now())"
                ),
                {"email": "hidden.param@example.net"},
            )
    finally:
        engine.dispose()
    message = str(caught.value)
    assert "[SQL parameters hidden due to hide_parameters=True]" in message
    assert "{'email'" not in message
