"""Driving the real processor and reading the mirror back for comparisons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from prometheus_client import REGISTRY
from sqlalchemy import Engine, text

from domain.envelope import parse_envelope
from domain.event_log import NewEvent, insert_events
from domain.models import Base
from domain.types import utcnow
from tests.support.db import truncate_all
from workers.processor import process_events
from workers.runtime import Runtime


def store(rt: Runtime, events: Sequence[dict[str, Any]]) -> list[str]:
    """Insert events the way ingest does (duplicates are no-ops); return their ids."""
    new = []
    for ev in events:
        raw = orjson.dumps(ev).decode()
        new.append(NewEvent(parse_envelope(raw), raw))
    with rt.sessions.begin() as session:
        insert_events(session, new, utcnow())
    return [ev["id"] for ev in events]


def apply(rt: Runtime, *events: dict[str, Any]) -> None:
    """Store and process each event in turn through the real processor; none may fail."""
    for ev in events:
        ids = store(rt, [ev])
        outcome = process_events(rt, ids)
        assert not outcome.failed, _last_error(rt, ev["id"])
        assert not outcome.ignored, f"{ev['type']} has no handler"


def apply_in_messages(rt: Runtime, events: Sequence[dict[str, Any]], sizes: Sequence[int]) -> int:
    """Store and process the events in messages of the given sizes (cycled); none may fail.

    Returns how many messages were applied in one transaction (none may be split).
    """
    splits = _batches("split")
    together = _batches("together")
    start, n = 0, 0
    while start < len(events):
        chunk = events[start : start + sizes[n % len(sizes)]]
        outcome = process_events(rt, store(rt, chunk))
        assert not outcome.failed, [_last_error(rt, i) for i in outcome.failed]
        start, n = start + len(chunk), n + 1
    assert _batches("split") == splits, "a batch was split although nothing else ran"
    return int(_batches("together") - together)


def _batches(outcome: str) -> float:
    value = REGISTRY.get_sample_value("billing_event_batches_total", {"outcome": outcome})
    return value or 0.0


def _last_error(rt: Runtime, event_id: str) -> str:
    with rt.engine.connect() as conn:
        return str(
            conn.execute(
                text("SELECT last_error FROM stripe_events WHERE event_id = :e"), {"e": event_id}
            ).scalar_one_or_none()
        )


def truncate(engine: Engine) -> None:
    """Empty the mirror and the event log (between hypothesis examples)."""
    truncate_all(engine)


def rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def one(engine: Engine, sql: str, **params: Any) -> dict[str, Any]:
    found = rows(engine, sql, **params)
    assert len(found) == 1, f"expected one row, got {found}"
    return found[0]


# The state a product can observe; processing timestamps are left out on purpose.
SNAPSHOT_QUERIES = {
    "subscriptions": "SELECT id, stripe_customer_id, status, price_id, plan_tier, plan_interval,"
    " quantity, unit_amount, current_period_start, current_period_end, cancel_at_period_end,"
    " canceled_at, last_event_id FROM subscriptions ORDER BY id",
    "items": "SELECT id, subscription_id, price_id, plan_tier, quantity FROM subscription_items"
    " ORDER BY id",
    "invoices": "SELECT id, subscription_id, status, amount_due, amount_paid, attempt_count,"
    " paid_at, last_event_id FROM invoices ORDER BY id",
    "payment_methods": "SELECT id, stripe_customer_id, status, card_last4, is_default"
    " FROM payment_methods ORDER BY id",
    "checkout_sessions": "SELECT id, account_ref, stripe_customer_id, status, payment_status"
    " FROM checkout_sessions ORDER BY id",
    "accounts": "SELECT account_ref, stripe_customer_id, email, company_name, vat_number,"
    " kvk_number, country, default_payment_method_id, deleted FROM billing_accounts"
    " ORDER BY account_ref, stripe_customer_id",
    "notifications": "SELECT kind, event_id, object_id FROM notifications ORDER BY event_id, kind",
}
COVERED = {"subscriptions", "subscription_items", "invoices", "payment_methods"}
COVERED |= {"checkout_sessions", "billing_accounts", "notifications"}
# A later family's stamped tables are compared whole (but for our write time) without
# being listed here: its rows take part in the ordering tests as soon as its events do.
SNAPSHOT_QUERIES |= {
    table.name: f"SELECT {', '.join(c.name for c in table.columns if c.name != 'updated_at')}"
    f" FROM {table.name} ORDER BY id"
    for table in Base.metadata.sorted_tables
    if "last_event_id" in table.c and table.name not in COVERED
}


def snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Everything the final-state comparisons look at."""
    return {name: rows(engine, sql) for name, sql in SNAPSHOT_QUERIES.items()}
