"""The pure rules of meter reporting: buckets, identifiers, grouping, triage (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.usage.reporting import (
    MeterEvent,
    PendingUsage,
    bucket_start,
    chunks,
    group_records,
    identifier_for,
    is_closed,
    triage,
)

T0 = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)


def rec(rid: str, at: datetime, account: str = "a", qty: int = 1, customer: str | None = "cus_a"):
    return PendingUsage(rid, account, "api_calls", qty, at, customer)


def test_buckets_are_aligned_to_the_epoch_and_close_at_their_end() -> None:
    assert bucket_start(T0 + timedelta(seconds=59.9), 60) == T0
    assert bucket_start(T0 + timedelta(seconds=60), 60) == T0 + timedelta(minutes=1)
    assert not is_closed(T0, 60, T0 + timedelta(seconds=59))
    assert is_closed(T0, 60, T0 + timedelta(seconds=60))


def test_the_identifier_depends_on_the_records_not_their_order_and_fits_stripe() -> None:
    a = identifier_for("a", "m", T0, ["r1", "r2"])
    assert a == identifier_for("a", "m", T0, ["r2", "r1"])
    assert len(a) <= 100 and a.startswith("usg_")
    assert a != identifier_for("a", "m", T0, ["r1", "r2", "r3"])
    assert a != identifier_for("a", "m", T0 + timedelta(minutes=1), ["r1", "r2"])
    assert a != identifier_for("b", "m", T0, ["r1", "r2"])
    # No ambiguity from joining: ("ab", "c") and ("a", "bc") differ.
    assert identifier_for("ab", "c", T0, []) != identifier_for("a", "bc", T0, [])


def test_grouping_sums_per_account_meter_and_closed_bucket() -> None:
    now = T0 + timedelta(minutes=2, seconds=30)
    records = [
        rec("1", T0, qty=2),
        rec("2", T0 + timedelta(seconds=30), qty=3),
        rec("3", T0 + timedelta(minutes=1), qty=4),
        rec("4", T0, account="b"),
        rec("5", T0 + timedelta(minutes=2)),  # open bucket: left out
    ]
    groups = group_records(records, 60, now)
    assert [(g.account_ref, g.bucket_start, g.record_ids, g.quantity) for g in groups] == [
        ("a", T0, ("1", "2"), 5),
        ("a", T0 + timedelta(minutes=1), ("3",), 4),
        ("b", T0, ("4",), 1),
    ]
    again = group_records(list(reversed(records)), 60, now)
    assert [g.identifier for g in again] == [g.identifier for g in groups]


def test_triage_rejects_too_old_and_long_unlinked_records_and_keeps_the_rest_waiting() -> None:
    now = T0
    out = triage(
        [
            rec("ok", now - timedelta(minutes=5)),
            rec("old", now - timedelta(days=35)),
            rec("new-unlinked", now - timedelta(hours=1), customer=None),
            rec("old-unlinked", now - timedelta(days=4), customer=None),
        ],
        now,
        timedelta(days=3),
    )
    assert [r.id for r in out.report] == ["ok"]
    assert set(out.rejected) == {"old", "old-unlinked"}
    assert out.rejected["old"].startswith("too_old")
    assert out.rejected["old-unlinked"].startswith("no_stripe_customer")
    assert out.waiting == 1
    never = triage([rec("x", now - timedelta(days=30), customer=None)], now, None)
    assert never.waiting == 1 and not never.rejected


def test_events_are_shaped_for_each_api_and_sent_100_at_a_time() -> None:
    event = MeterEvent("usg_1", "api_calls", "cus_a", 7, T0, ("r1", "r2", "r3"))
    assert event.v2() == {
        "event_name": "api_calls",
        "identifier": "usg_1",
        "payload": {"stripe_customer_id": "cus_a", "value": "7"},
        "timestamp": "2026-12-01T10:00:00.000Z",
    }
    assert event.v1()["timestamp"] == int(T0.timestamp())
    assert [len(c) for c in chunks(list(range(250)))] == [100, 100, 50]
