"""POST /v1/usage: each record validated alone, stored once per id, counted in the answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from domain.usage.records import USAGE_RECORDS
from tests.credits.support import AUTH, READ_ONLY, credits_client
from workers.runtime import Runtime


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    yield from credits_client()


def rec(record_id: str, **kw: Any) -> dict[str, Any]:
    return {
        "id": record_id,
        "account_ref": "org_u",
        "meter": "api_calls",
        "quantity": 3,
        "timestamp": int(time.time()) - 60,
        **kw,
    }


def post(client: TestClient, records: list[Any]) -> tuple[int, dict[str, Any]]:
    answer = client.post("/v1/usage", json={"records": records}, headers=AUTH)
    return answer.status_code, answer.json()


def test_records_are_stored_once_and_bad_ones_rejected_with_reasons(
    client: TestClient, runtime: Runtime
) -> None:
    now = int(time.time())
    status, body = post(
        client,
        [
            rec("u1"),
            rec("u2", timestamp=(datetime.now(UTC) - timedelta(hours=1)).isoformat()),
            rec("u3", quantity=-1),
            rec("u4", timestamp=now - 36 * 86_400),
            rec("u5", timestamp=now + 3600),
            rec("u6", timestamp="2026-11-30T12:00:00"),
            "not a record",
            rec("u1"),  # repeated in the batch
            rec("u7", meter="m" * 101),
            rec("u8", quantity="3"),
        ],
    )
    assert status == 202
    assert (body["accepted"], body["duplicate"]) == (2, 1)
    reasons = {r["index"]: (r["id"], r["reason"]) for r in body["rejected"]}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 8, 9]
    assert reasons[2][0] == "u3" and reasons[2][1].startswith("quantity:")
    assert "35 days" in reasons[3][1] and "future" in reasons[4][1]
    assert "UTC offset" in reasons[5][1]
    assert reasons[6] == (
        None,
        "record: Input should be a valid dictionary or instance of UsageRecordIn",
    )
    assert reasons[8][1].startswith("meter:") and reasons[9][1].startswith("quantity:")
    status, again = post(client, [rec("u1"), rec("u2"), rec("u9")])
    assert (again["accepted"], again["duplicate"], again["rejected"]) == (1, 2, [])
    with runtime.sessions() as session:
        stored = {r.id: r for r in session.execute(select(USAGE_RECORDS))}
    assert sorted(stored) == ["u1", "u2", "u9"]
    assert stored["u1"].source == "usage" and stored["u1"].report_status == "pending"


def test_a_batch_is_at_most_1000_records(client: TestClient) -> None:
    status, body = post(client, [rec(f"u{n}") for n in range(1001)])
    assert status == 422 and body["fields"][0]["field"] == "records"
    status, body = post(client, [])
    assert status == 422
    status, body = post(client, [rec(f"u{n}") for n in range(1000)])
    assert (status, body["accepted"]) == (202, 1000)


def test_usage_needs_the_usage_scope(client: TestClient) -> None:
    answer = client.post("/v1/usage", json={"records": [rec("u1")]}, headers=READ_ONLY)
    assert answer.status_code == 403
