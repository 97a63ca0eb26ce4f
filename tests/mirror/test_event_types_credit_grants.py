"""The credit grant event types, in both API shapes, through the real processor; the ledger
entries a grant with `metadata.credits` writes; the read route."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from domain.mirror.families import REGISTRY
from domain.mirror.stripe_json import ApiShape
from tests.credits.support import AUTH, assert_no_drift, credits_client
from tests.credits.support import grant as manual_grant
from tests.mirror import factory as f
from tests.mirror import factory_credit_grants as fg
from tests.mirror.support import apply, one, rows
from workers.runtime import Runtime

T0 = 1_700_000_000
ACCT, CUS = "acct_grant_types", "cus_grant_types"
TYPES = ("billing.credit_grant.created", "billing.credit_grant.updated")


def test_the_types_are_registered() -> None:
    assert set(REGISTRY) >= set(TYPES)


def entries(rt: Runtime) -> list[dict[str, object]]:
    return rows(
        rt.engine,
        "SELECT entry_id, kind, credits, source FROM credit_entries"
        " WHERE account_ref = :a ORDER BY id",
        a=ACCT,
    )


def no_drift(rt: Runtime) -> None:
    with rt.sessions.begin() as session:
        assert_no_drift(session)


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
@pytest.mark.parametrize("event_type", TYPES)
def test_a_grant_is_mirrored(runtime: Runtime, event_type: str, shape: ApiShape) -> None:
    obj = fg.credit_grant("credgr_types", CUS, value=2500, expires_at=T0 + 86_400, shape=shape)
    apply(runtime, f.event(event_type, obj, T0, shape=shape))
    row = one(runtime.engine, "SELECT * FROM credit_grants")
    assert (row["id"], row["stripe_customer_id"], row["status"], row["amount"]) == (
        "credgr_types",
        CUS,
        "active",
        2500,
    )
    assert (row["currency"], row["category"], row["price_type"], row["credits"]) == (
        "eur",
        "promotional",
        "metered",
        None,
    )
    assert row["expires_at"] == datetime.fromtimestamp(T0 + 86_400, UTC)
    # Mirrored only: no metadata.credits, and no account anyway.
    assert rows(runtime.engine, "SELECT * FROM credit_entries") == []


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_metadata_credits_grant_once_and_a_void_takes_back_what_is_left(
    runtime: Runtime, shape: ApiShape
) -> None:
    apply(runtime, f.event("customer.created", f.customer(CUS, account_ref=ACCT), T0, shape=shape))
    grant = fg.credit_grant("credgr_led", CUS, credits=300, shape=shape)
    created = f.event("billing.credit_grant.created", grant, T0 + 1, shape=shape)
    apply(runtime, created)
    apply(runtime, created)  # a redelivery
    renamed = {**grant, "name": "Renamed"}
    apply(runtime, f.event("billing.credit_grant.updated", renamed, T0 + 2, shape=shape))
    assert entries(runtime) == [
        {"entry_id": "stripe_grant:credgr_led", "kind": "grant", "credits": 300,
         "source": "stripe_grant"}
    ]  # fmt: skip
    # 120 of them are spent, then Stripe voids the grant: the 180 left are taken back.
    with runtime.sessions.begin() as session:
        manual_grant(session, ACCT, 50, "manual:other")
        session.execute(
            text("UPDATE credit_balances SET balance = balance - 120, consumed = consumed + 120")
        )
        session.execute(
            text(
                "INSERT INTO credit_entries (entry_id, account_ref, kind, credits, overage,"
                " source, created_at) VALUES ('consume:c1', :a, 'consume', -120, 0, 'gate',"
                " CURRENT_TIMESTAMP)"
            ),
            {"a": ACCT},
        )
    voided = fg.credit_grant("credgr_led", CUS, credits=300, voided_at=T0 + 3, shape=shape)
    void_event = f.event("billing.credit_grant.updated", voided, T0 + 3, shape=shape)
    apply(runtime, void_event)
    apply(runtime, void_event)
    assert entries(runtime)[-1] == {
        "entry_id": "stripe_grant:credgr_led:void",
        "kind": "adjust",
        "credits": -180,
        "source": "stripe_grant",
    }
    assert one(runtime.engine, "SELECT balance FROM credit_balances")["balance"] == 50
    assert one(runtime.engine, "SELECT status FROM credit_grants")["status"] == "voided"
    no_drift(runtime)


def test_a_void_seen_first_grants_and_takes_back_at_once(runtime: Runtime) -> None:
    apply(runtime, f.event("customer.created", f.customer(CUS, account_ref=ACCT), T0))
    voided = fg.credit_grant("credgr_v", CUS, credits=70, voided_at=T0 + 5)
    apply(runtime, f.event("billing.credit_grant.updated", voided, T0 + 5))
    apply(runtime, f.event("billing.credit_grant.created", fg.credit_grant("credgr_v", CUS), T0))
    assert [(e["entry_id"], e["credits"]) for e in entries(runtime)] == [
        ("stripe_grant:credgr_v", 70),
        ("stripe_grant:credgr_v:void", -70),
    ]
    no_drift(runtime)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    yield from credits_client()


def test_the_read_route_lists_the_accounts_grants(runtime: Runtime, client: TestClient) -> None:
    apply(runtime, f.event("customer.created", f.customer(CUS, account_ref=ACCT), T0))
    for n, at in (("credgr_a", T0 + 1), ("credgr_b", T0 + 2)):
        apply(
            runtime,
            f.event("billing.credit_grant.created", fg.credit_grant(n, CUS, created=at), at),
        )
    apply(
        runtime, f.event("billing.credit_grant.created", fg.credit_grant("credgr_z", "cus_x"), T0)
    )
    res = client.get(f"/v1/accounts/{ACCT}/credit-grants", headers=AUTH)
    assert res.status_code == 200, res.text
    body = res.json()
    assert [g["id"] for g in body["data"]] == ["credgr_b", "credgr_a"]
    first = body["data"][0]
    assert first["amount"] == {"amount": 5000, "currency": "eur"}
    assert (first["status"], first["category"], first["name"]) == (
        "active",
        "promotional",
        "Launch credit",
    )
    assert "raw" not in first and "stripe_customer_id" not in first
    voided = client.get(f"/v1/accounts/{ACCT}/credit-grants?status=voided", headers=AUTH)
    assert voided.json()["data"] == []


@pytest.mark.parametrize("reverse", [False, True], ids=["in_order", "reversed_link_last"])
def test_the_lifecycle_ends_voided_with_the_credits_taken_back(
    runtime: Runtime, reverse: bool
) -> None:
    from tests.mirror.lifecycle import LIFECYCLES
    from tests.mirror.lifecycle_credit_grants import ACCT as LIFE_ACCT
    from tests.mirror.lifecycle_credit_grants import GRANT, credit_grants_lifecycle

    assert LIFECYCLES["credit_grants"] is credit_grants_lifecycle
    events = credit_grants_lifecycle(ApiShape.CURRENT)
    # Reversed, the account link comes last: the grant's credits wait for it.
    apply(runtime, *(reversed(events) if reverse else events))
    row = one(runtime.engine, "SELECT * FROM credit_grants WHERE id = :g", g=GRANT)
    assert (row["status"], row["name"]) == ("voided", "Renamed")
    found = rows(
        runtime.engine,
        "SELECT entry_id, credits FROM credit_entries WHERE account_ref = :a ORDER BY id",
        a=LIFE_ACCT,
    )
    assert found == [
        {"entry_id": f"stripe_grant:{GRANT}", "credits": 300},
        {"entry_id": f"stripe_grant:{GRANT}:void", "credits": -300},
    ]
    no_drift(runtime)


@pytest.mark.parametrize("event_type", TYPES)
def test_stripes_example_events_are_processed(runtime: Runtime, event_type: str) -> None:
    from domain.samples import build_event
    from tests.mirror.test_stripe_examples import VERSIONS, status_of

    for n, version in enumerate(VERSIONS.values()):
        event = build_event(event_type, created=1_750_000_000 + n, api_version=version)
        apply(runtime, event)  # asserts neither failed nor ignored
        assert status_of(runtime, event["id"]) == "processed"
    row = one(runtime.engine, "SELECT id, amount, currency, credits FROM credit_grants")
    assert row == {"id": "obj_123", "amount": 111972721, "currency": None, "credits": None}
