"""Pure parts of the console: the message normaliser, grouping, the chart, hidden payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import Engine, insert

from domain.event_log import EVENTS
from domain.ops.issues import group, group_key, normalise
from domain.ops.throughput import MINUTES, Throughput
from ingest.console.events import shown_payload
from ingest.console.overview import HEIGHT, chart
from ingest.console.pages import safe_next


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("No such price: 'price_1NaBc9' on evt_9xY", "No such price: '<id>' on <id>"),
        ("attempt 3 of 8 after 1.5 s", "attempt <n> of <n> after <n> s"),
        ("lock 123e4567-e89b-12d3-a456-426614174000 busy", "lock <uuid> busy"),
        ("digest 3f2a9c1d0e4b5a6f at 0x7ffe12", "digest <hex> at <hex>"),
        ("KeyError: 'customer'", "KeyError: 'customer'"),  # words stay words
        ("deadbeef cafe facade", "deadbeef cafe facade"),  # hex-looking words without digits
        ("  spaced\n\tout  ", "spaced out"),
    ],
)
def test_normalise_replaces_ids_hex_and_numbers(message: str, expected: str) -> None:
    assert normalise(message) == expected


def test_normalise_bounds_the_message() -> None:
    assert len(normalise("x" * 5000)) == 300


def test_group_merges_messages_that_differ_only_by_ids() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    rows = [
        {"id": 3, "event_id": "evt_3", "type": "invoice.paid", "error_type": "KeyError",
         "error_message": "no plan for price_3A", "failed_at": at + timedelta(minutes=2)},
        {"id": 2, "event_id": "evt_2", "type": "invoice.paid", "error_type": "KeyError",
         "error_message": "no plan for price_2B", "failed_at": at},
        {"id": 1, "event_id": "evt_1", "type": "invoice.paid", "error_type": "ValueError",
         "error_message": "no plan for price_1C", "failed_at": at},
    ]  # fmt: skip
    issues = group(rows)
    assert [(i.error_type, i.count) for i in issues] == [("KeyError", 2), ("ValueError", 1)]
    first = issues[0]
    assert first.event_ids == ["evt_3", "evt_2"] and first.sample_id == 3
    assert (first.first_seen, first.last_seen) == (at, at + timedelta(minutes=2))
    assert first.key == group_key("invoice.paid", "KeyError", "no plan for <id>")


def test_chart_scales_bars_to_the_busiest_minute() -> None:
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    events = [0] * MINUTES
    failures = [0] * MINUTES
    events[-1], failures[-1], events[0] = 40, 10, 20
    bars = chart(Throughput(start, events, failures))
    assert len(bars) == MINUTES
    assert bars[-1].events_height == HEIGHT and bars[-1].failures_height == HEIGHT / 4
    assert bars[0].events_height == HEIGHT / 2 and bars[0].minute == "10:00"
    assert Throughput(start, events, failures).events_per_minute == 1.0


def test_shown_payload_hides_personal_text_and_keeps_ids() -> None:
    raw = orjson.dumps(
        {"data": {"object": {"id": "cus_Ab1", "object": "customer", "email": "a@b.nl",
                             "name": "Jan Jansen", "balance": 0, "address": {"city": "Delft"},
                             "metadata": {"account_ref": "org_1", "note": "call Jan"}}}}
    ).decode()  # fmt: skip
    lines = {(d, k): v for d, k, v in shown_payload(raw)}
    assert lines[(0, "id")] == "cus_Ab1" and lines[(0, "object")] == "customer"
    assert lines[(0, "balance")] == "0" and lines[(1, "account_ref")] == "org_1"
    shown = " ".join(lines.values())
    for personal in ("a@b.nl", "Jan Jansen", "Delft", "call Jan"):
        assert personal not in shown
    assert shown_payload("not json") == [] and shown_payload('{"data": 3}') == []


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ops/issues?x=1", "/ops/issues?x=1"),
        ("https://evil.example", "/ops"),
        ("//evil.example", "/ops"),
        ("/ops//evil", "/ops"),
        ("/ops/login", "/ops"),
        ("/v1/ops/stats", "/ops"),
        (None, "/ops"),
    ],
)
def test_safe_next_stays_in_the_console(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_the_throughput_cache_counts_settled_minutes_once(db: Engine) -> None:
    from domain.ops.throughput import ThroughputCache, throughput

    now = datetime.now(UTC)
    raw = orjson.dumps({"id": "evt_x", "type": "t", "data": {"object": {}}}).decode()
    rows = [
        {"event_id": f"evt_t{i}", "type": "t", "event_created": 1, "raw_body": raw,
         "received_at": now - timedelta(minutes=i % 10), "status": "processed", "attempts": 1,
         "livemode": False, "source": "webhook"}
        for i in range(50)
    ]  # fmt: skip
    with db.begin() as conn:
        conn.execute(insert(EVENTS), rows)
    cache = ThroughputCache()
    with db.connect() as conn:
        first = cache.throughput(conn, now)
        assert sum(first.events) == 50 and first.events[-10:] == [5] * 10
        assert first == throughput(conn, now)
        with db.begin() as write:  # a late row in a settled minute is not counted again
            late = {**rows[0], "event_id": "evt_late", "received_at": now - timedelta(minutes=5)}
            write.execute(insert(EVENTS), [late])
        again = cache.throughput(conn, now)
        assert again.events == first.events
        assert sum(throughput(conn, now).events) == 51
