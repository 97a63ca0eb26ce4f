"""The pure drift comparison: missing, extra, differing by field, personal values redacted."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.mirror.statuses import SubscriptionStatus
from domain.ops.drift import Outcome, compare, diff_rows
from domain.redact import REDACTED

ROW = {
    "id": "sub_1",
    "status": SubscriptionStatus.ACTIVE,
    "quantity": 2,
    "current_period_end": datetime(2026, 12, 1, tzinfo=UTC),
    "last_event_created": 10,
    "last_event_id": "evt_1",
    "updated_at": datetime(2026, 12, 1, tzinfo=UTC),
    "raw": {"id": "sub_1", "quantity": 2},
}


def test_the_same_row_is_same_whatever_its_stamps_and_raw_payload() -> None:
    stored = {**ROW, "status": "active", "last_event_created": 99, "raw": {}, "updated_at": None}
    finding = compare("subscriptions", "sub_1", ROW, stored)
    assert finding.outcome is Outcome.SAME and not finding.drift and finding.fields == ()


def test_a_row_the_mirror_lacks_is_missing() -> None:
    finding = compare("subscriptions", "sub_1", ROW, None)
    assert finding.outcome is Outcome.MISSING and finding.drift


def test_a_stale_row_differs_by_field_with_both_values() -> None:
    stored = {**ROW, "status": "trialing", "quantity": 1}
    finding = compare("subscriptions", "sub_1", ROW, stored)
    assert finding.outcome is Outcome.DIFFERING
    assert [d.as_dict() for d in finding.fields] == [
        {"field": "status", "mirror": "trialing", "stripe": "active"},
        {"field": "quantity", "mirror": 1, "stripe": 2},
    ]


def test_datetimes_compare_by_instant_and_show_as_iso() -> None:
    naive_equal = {**ROW, "current_period_end": datetime(2026, 12, 1, tzinfo=UTC)}
    assert diff_rows(ROW, naive_equal) == ()
    later = {**ROW, "current_period_end": datetime(2026, 12, 2, tzinfo=UTC)}
    (diff,) = diff_rows(ROW, later)
    assert diff.mirror == "2026-12-02T00:00:00+00:00"


def test_personal_fields_name_the_field_but_never_the_value() -> None:
    expected = {"email": "new@example.com", "name": "Ada", "country": "NL"}
    stored = {"email": "old@example.com", "name": "Ada L", "country": "DE"}
    diffs = {d.field: d for d in diff_rows(expected, stored)}
    assert diffs["email"].mirror == diffs["email"].stripe == REDACTED
    assert diffs["name"].mirror == REDACTED
    assert (diffs["country"].mirror, diffs["country"].stripe) == ("DE", "NL")


def test_a_row_stripe_deleted_is_extra_until_the_mirror_says_so_too() -> None:
    gone_row = {**ROW, "status": SubscriptionStatus.CANCELED}
    live = {**ROW}
    assert compare("subscriptions", "sub_1", gone_row, live, gone=True).outcome is Outcome.EXTRA
    ended = {**ROW, "status": "canceled"}
    assert compare("subscriptions", "sub_1", gone_row, ended, gone=True).outcome is Outcome.SAME
    assert compare("subscriptions", "sub_1", None, None, gone=True).outcome is Outcome.SAME
