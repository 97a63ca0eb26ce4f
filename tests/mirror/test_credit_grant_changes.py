"""A Stripe credit grant's `metadata.credits` and `expires_at` changing after its first ledger
entry: the ledger follows the newest state, whatever order and however often events come."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from domain.credits import grants
from domain.types import utcnow
from tests.credits.support import assert_no_drift
from tests.credits.support import grant as manual_grant
from tests.mirror import factory as f
from tests.mirror import factory_credit_grants as fg
from tests.mirror.support import apply, apply_in_messages, one, rows
from workers.runtime import Runtime

T0 = 1_700_000_000
UPDATED = "billing.credit_grant.updated"


def entries(rt: Runtime, account: str) -> list[tuple[str, str, int]]:
    found = rows(
        rt.engine,
        "SELECT entry_id, kind, credits FROM credit_entries WHERE account_ref = :a ORDER BY id",
        a=account,
    )
    return [(str(r["entry_id"]), str(r["kind"]), int(r["credits"])) for r in found]  # type: ignore[call-overload]


def balance(rt: Runtime, account: str) -> int:
    row = one(rt.engine, "SELECT balance FROM credit_balances WHERE account_ref = :a", a=account)
    return int(row["balance"])  # type: ignore[call-overload]


def no_drift(rt: Runtime) -> None:
    with rt.sessions.begin() as session:
        assert_no_drift(session)


def spend(rt: Runtime, account: str, entry_id: str, credits: int) -> None:
    with rt.sessions.begin() as session:
        session.execute(
            text(
                "UPDATE credit_balances SET balance = balance - :n, consumed = consumed + :n"
                " WHERE account_ref = :a"
            ),
            {"a": account, "n": credits},
        )
        session.execute(
            text(
                "INSERT INTO credit_entries (entry_id, account_ref, kind, credits, overage,"
                " source, created_at) VALUES (:e, :a, 'consume', :c, 0, 'gate',"
                " CURRENT_TIMESTAMP)"
            ),
            {"e": entry_id, "a": account, "c": -credits},
        )


def test_new_credits_adjust_by_the_difference_once(runtime: Runtime) -> None:
    acct, cus, gid = "acct_chg", "cus_chg", "credgr_chg"
    apply(runtime, f.event("customer.created", f.customer(cus, account_ref=acct), T0))
    apply(
        runtime,
        f.event("billing.credit_grant.created", fg.credit_grant(gid, cus, credits=300), T0 + 1),
    )
    more = f.event(UPDATED, fg.credit_grant(gid, cus, credits=500), T0 + 2, event_id="evt_more")
    apply(runtime, more, more)  # a redelivery adds nothing
    fewer = f.event(UPDATED, fg.credit_grant(gid, cus, credits=250), T0 + 3, event_id="evt_less")
    apply(runtime, fewer)
    # An older event arriving late (the 500) never undoes the newer 250.
    apply(runtime, more)
    stale = f.event(UPDATED, fg.credit_grant(gid, cus, credits=900), T0 + 2, event_id="evt_old")
    apply(runtime, stale)
    assert entries(runtime, acct) == [
        (f"stripe_grant:{gid}", "grant", 300),
        (f"stripe_grant:{gid}:credits:{T0 + 2}:evt_more", "adjust", 200),
        (f"stripe_grant:{gid}:credits:{T0 + 3}:evt_less", "adjust", -250),
    ]
    assert balance(runtime, acct) == 250
    # A replay of the newest event through the ops path (force re-run) changes nothing.
    apply(runtime, {**fewer, "id": "evt_less_again"})
    assert balance(runtime, acct) == 250 and len(entries(runtime, acct)) == 3
    no_drift(runtime)


def test_fewer_credits_never_take_back_what_was_spent(runtime: Runtime) -> None:
    acct, cus, gid = "acct_cap", "cus_cap", "credgr_cap"
    apply(runtime, f.event("customer.created", f.customer(cus, account_ref=acct), T0))
    with runtime.sessions.begin() as session:
        manual_grant(session, acct, 1000, "manual:base")
    apply(
        runtime,
        f.event("billing.credit_grant.created", fg.credit_grant(gid, cus, credits=300), T0 + 1),
    )
    spend(runtime, acct, "consume:cap1", 280)  # 20 of the grant are left
    apply(runtime, f.event(UPDATED, fg.credit_grant(gid, cus, credits=100), T0 + 2))
    assert entries(runtime, acct)[-1][1:] == ("adjust", -20)
    assert balance(runtime, acct) == 1000
    # Raised again to 600: the grant has given 280, so 320 more.
    apply(runtime, f.event(UPDATED, fg.credit_grant(gid, cus, credits=600), T0 + 3))
    assert entries(runtime, acct)[-1][1:] == ("adjust", 320)
    assert balance(runtime, acct) == 1320
    # Voided: what is left of the 600 (600 - 280 spent) is taken back.
    voided = fg.credit_grant(gid, cus, credits=600, voided_at=T0 + 4)
    apply(runtime, f.event(UPDATED, voided, T0 + 4))
    assert entries(runtime, acct)[-1] == (f"stripe_grant:{gid}:void", "adjust", -320)
    assert balance(runtime, acct) == 1000
    no_drift(runtime)


def lifecycle(n: int) -> tuple[str, list[dict[str, Any]]]:
    """A grant's events (credits 300 -> 500 -> 200 -> 400, renamed in between), with ids
    of their own per run."""
    acct, cus, gid = f"acct_shuf{n}", f"cus_shuf{n}", f"credgr_shuf{n}"

    def ev(event_type: str, k: int, at: int, **kw: Any) -> dict[str, Any]:
        obj = fg.credit_grant(gid, cus, **kw)
        return f.event(event_type, obj, T0 + at, event_id=f"evt_shuf{n}_{k}")

    return acct, [
        f.event("customer.created", f.customer(cus, account_ref=acct), T0, event_id=f"evt_c{n}"),
        ev("billing.credit_grant.created", 0, 1, credits=300),
        ev(UPDATED, 1, 1, credits=300, name="Renamed"),  # same second as the creation
        ev(UPDATED, 2, 5, credits=500),
        ev(UPDATED, 3, 9, credits=200),
        ev(UPDATED, 4, 9, credits=200, name="Twice"),  # an update of the same second
        ev(UPDATED, 5, 12, credits=400, expires_at=T0 + 10**8),
    ]


@pytest.mark.parametrize("seed", range(8))
def test_shuffled_and_duplicated_updates_end_at_the_newest_credits(
    runtime: Runtime, seed: int
) -> None:
    acct, events = lifecycle(seed)
    rnd = random.Random(seed)
    order = events[1:] + rnd.sample(events[1:], 3)  # duplicates
    rnd.shuffle(order)
    # Half the runs link the account first (the grant's entry, then adjustments), half at a
    # random place (what came before is granted at the link); odd seeds apply in batches.
    link = 0 if seed % 4 < 2 else rnd.randrange(len(order))
    order.insert(link, events[0])
    if seed % 2:
        apply_in_messages(runtime, order, [3, 4])
    else:
        apply(runtime, *order)
    assert balance(runtime, acct) == 400
    granted = [e for e in entries(runtime, acct) if e[0].startswith("stripe_grant:")]
    assert sum(c for _, _, c in granted) == 400
    assert len({e[0] for e in granted}) == len(granted)
    row = one(runtime.engine, "SELECT credits, expires_at FROM credit_grants")
    assert row["credits"] == 400
    no_drift(runtime)


def test_a_new_expires_at_moves_the_expiry_of_what_is_left(runtime: Runtime) -> None:
    acct, cus = "acct_exp", "cus_exp"
    now = utcnow()
    soon, later = (
        int((now + timedelta(days=1)).timestamp()),
        int((now + timedelta(days=30)).timestamp()),
    )
    past = int((now - timedelta(minutes=1)).timestamp())
    apply(runtime, f.event("customer.created", f.customer(cus, account_ref=acct), T0))
    with runtime.sessions.begin() as session:
        manual_grant(session, acct, 1000, "manual:base")
    # Grant A expires tomorrow; Stripe moves it into the past: it is due now.
    a = fg.credit_grant("credgr_a", cus, credits=300, expires_at=soon)
    apply(runtime, f.event("billing.credit_grant.created", a, T0 + 1))
    # Grant B expired a minute ago; Stripe extends it by a month first: not due.
    b = fg.credit_grant("credgr_b", cus, credits=200, expires_at=past)
    apply(runtime, f.event("billing.credit_grant.created", b, T0 + 1))
    spend(runtime, acct, "consume:exp1", 100)
    with runtime.sessions.begin() as session:
        assert [g.entry_id for g in grants.due_grants(session, now, 10)] == [
            "stripe_grant:credgr_b"
        ]
    apply(runtime, f.event(UPDATED, {**a, "expires_at": past}, T0 + 2))
    apply(runtime, f.event(UPDATED, {**b, "expires_at": later}, T0 + 2))
    # An older event with the first expiry, late: the newest one stands.
    apply(runtime, f.event(UPDATED, {**b, "name": "old"}, T0 + 1))
    with runtime.sessions.begin() as session:
        assert grants.expire_due_grants(session, now) == 1
        assert grants.expire_due_grants(session, now) == 0
    expired = [e for e in entries(runtime, acct) if e[1] == "expire"]
    assert expired == [("expired:stripe_grant:credgr_a", "expire", -200)]  # 300 less 100 spent
    assert balance(runtime, acct) == 1000 + 300 + 200 - 100 - 200
    # A month later B's credits expire, what is left of them.
    with runtime.sessions.begin() as session:
        assert grants.expire_due_grants(session, now + timedelta(days=31)) == 1
    assert entries(runtime, acct)[-1] == ("expired:stripe_grant:credgr_b", "expire", -100)
    no_drift(runtime)
