"""POST /v1/credits/consume: spend, refuse (402, nothing recorded), pay-as-you-go overage,
the same id's first answer; and the credit reads."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from domain.credits import ledger
from domain.credits.tables import ENTRIES
from domain.types import utcnow
from domain.usage.records import USAGE_RECORDS
from tests.credits.support import AUTH, READ_ONLY, assert_no_drift, credits_client, grant
from workers.runtime import Runtime

ACCT = "org_gate"


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    yield from credits_client()


def consume(client: TestClient, cid: str, credits: int, **extra: object) -> tuple[int, dict]:
    body = {"id": cid, "account_ref": ACCT, "credits": credits, **extra}
    answer = client.post("/v1/credits/consume", json=body, headers=AUTH)
    return answer.status_code, answer.json()


def entries(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return int(session.execute(select(func.count()).select_from(ENTRIES)).scalar_one())


def test_consume_spends_refuses_and_answers_the_same_id_alike(
    client: TestClient, runtime: Runtime
) -> None:
    with runtime.sessions.begin() as session:
        grant(session, ACCT, 10, "manual:1")
    assert consume(client, "c1", 4) == (200, {"remaining": 6, "overage": 0, "payg": False})
    assert consume(client, "c1", 4) == (200, {"remaining": 6, "overage": 0, "payg": False})
    assert consume(client, "c2", 6) == (200, {"remaining": 0, "overage": 0, "payg": False})
    # The first answer again, although the balance is now empty.
    assert consume(client, "c1", 4)[0] == 200
    before = entries(runtime)
    status, body = consume(client, "c3", 1)
    assert status == 402
    assert body["error"] == "credits_exhausted" and body["message"]
    assert (body["remaining"], body["requested"], body["payg"]) == (0, 1, False)
    assert entries(runtime) == before  # nothing recorded
    with runtime.sessions() as session:
        kept = assert_no_drift(session)
    assert kept[ACCT] == {"balance": 0, "granted": 10, "consumed": 10, "overage": 0}


def test_an_unknown_account_has_nothing_to_spend(client: TestClient) -> None:
    status, body = consume(client, "c1", 1)
    assert (status, body["error"], body["remaining"]) == (402, "credits_exhausted", 0)


def test_with_payg_the_shortfall_is_overage_and_a_usage_record(
    client: TestClient, runtime: Runtime
) -> None:
    with runtime.sessions.begin() as session:
        grant(session, ACCT, 3, "manual:1")
        ledger.set_payg(session, ACCT, True, utcnow())
    assert consume(client, "c1", 10) == (200, {"remaining": 0, "overage": 7, "payg": True})
    assert consume(client, "c2", 5) == (200, {"remaining": 0, "overage": 5, "payg": True})
    assert consume(client, "c2", 5) == (200, {"remaining": 0, "overage": 5, "payg": True})
    with runtime.sessions() as session:
        usage = {r.id: r for r in session.execute(select(USAGE_RECORDS))}
        kept = assert_no_drift(session)
    assert sorted(usage) == ["overage:c1", "overage:c2"]
    assert (usage["overage:c1"].quantity, usage["overage:c1"].meter) == (7, "api_credits")
    assert usage["overage:c1"].source == "overage" and usage["overage:c1"].account_ref == ACCT
    assert kept[ACCT] == {"balance": 0, "granted": 3, "consumed": 3, "overage": 12}


def test_the_request_may_name_the_meter(client: TestClient, runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        ledger.set_payg(session, ACCT, True, utcnow())
    assert consume(client, "c1", 2, meter="gpu_seconds")[0] == 200
    with runtime.sessions() as session:
        [row] = session.execute(select(USAGE_RECORDS)).all()
    assert row.meter == "gpu_seconds"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "c", "account_ref": ACCT, "credits": 0}, "credits"),
        ({"id": "c", "account_ref": ACCT, "credits": "5"}, "credits"),
        ({"id": "", "account_ref": ACCT, "credits": 1}, "id"),
        ({"id": "c" * 241, "account_ref": ACCT, "credits": 1}, "id"),
        ({"account_ref": ACCT, "credits": 1}, "id"),
        ({"id": "c", "account_ref": ACCT, "credits": 1, "extra": 1}, "extra"),
    ],
)
def test_bad_bodies_are_422(client: TestClient, body: dict, field: str) -> None:
    answer = client.post("/v1/credits/consume", json=body, headers=AUTH)
    assert answer.status_code == 422
    assert field in {f["field"] for f in answer.json()["fields"]}


def test_the_gate_needs_the_usage_scope(client: TestClient) -> None:
    body = {"id": "c", "account_ref": ACCT, "credits": 1}
    assert client.post("/v1/credits/consume", json=body).status_code == 401
    answer = client.post("/v1/credits/consume", json=body, headers=READ_ONLY)
    assert (answer.status_code, answer.json()["error"]) == (403, "forbidden")


def test_credits_and_the_ledger_are_read_newest_first(client: TestClient, runtime: Runtime) -> None:
    assert client.get(f"/v1/accounts/{ACCT}/credits", headers=AUTH).status_code == 404
    with runtime.sessions.begin() as session:
        grant(session, ACCT, 10, "manual:1")
        grant(session, ACCT, 5, "manual:2")
    for n in range(3):
        consume(client, f"c{n}", 1)
    body = client.get(f"/v1/accounts/{ACCT}/credits", headers=READ_ONLY).json()
    assert body["balance"] == 12 and body["payg"] is False
    assert (body["granted"], body["consumed"], body["overage"]) == (15, 3, 0)
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(
            f"/v1/accounts/{ACCT}/credits/ledger", params=params, headers=READ_ONLY
        ).json()
        seen += [e["entry_id"] for e in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert seen == ["consume:c2", "consume:c1", "consume:c0", "manual:2", "manual:1"]
    bad = client.get(f"/v1/accounts/{ACCT}/credits/ledger?cursor=x", headers=AUTH)
    assert bad.status_code == 422
