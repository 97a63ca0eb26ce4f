"""Usage records are stored once per id, in the caller's transaction."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from domain.usage.records import USAGE_RECORDS, NewUsage, ReportStatus, UsageSource, add_usage
from workers.runtime import Runtime

AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def record(record_id: str, quantity: int = 3) -> NewUsage:
    return NewUsage(record_id, "org_1", "api_calls", quantity, AT)


def test_a_record_is_stored_once_per_id(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        first = add_usage(session, [record("u1"), record("u2")], AT)
    with runtime.sessions.begin() as session:
        again = add_usage(session, [record("u2", quantity=99), record("u3")], AT)
    assert (first, again) == ({"u1", "u2"}, {"u3"})
    with runtime.sessions() as session:
        rows = {r.id: r for r in session.execute(select(USAGE_RECORDS))}
        assert session.execute(select(func.count()).select_from(USAGE_RECORDS)).scalar() == 3
    assert rows["u2"].quantity == 3  # the first one stays
    assert rows["u1"].report_status == ReportStatus.PENDING
    assert rows["u1"].source == UsageSource.USAGE and rows["u1"].occurred_at == AT


def test_nothing_to_add_is_no_statement(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        assert add_usage(session, [], AT) == set()
