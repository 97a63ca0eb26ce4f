"""Period allowance from subscription events: once per (subscription, period start), by the
entitlement rule, whatever order the events arrive in; unused allowance expires."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest
from sqlalchemy import select

from domain.credits import ledger
from domain.credits.tables import ENTRIES
from domain.types import utcnow
from tests.credits.support import assert_no_drift
from tests.mirror import factory as f
from tests.mirror.support import apply, apply_in_messages, truncate
from workers.runtime import Runtime

T0 = 1_760_000_000
ACCT, CUS, SUB = "org_period", "cus_period", "sub_period"
P1 = (T0, T0 + 30 * f.DAY)
P2 = (P1[1], P1[1] + 30 * f.DAY)
PRO, BUSINESS = 4000, 20000  # credits_per_period of the bundled catalog's monthly plans

_ids = itertools.count()


def ev(event_type: str, obj: dict[str, Any], at: int, **kw: Any) -> dict[str, Any]:
    return f.event(event_type, obj, at, event_id=f"evt_p{next(_ids):04d}", **kw)


def sub(status: str, period: tuple[int, int] = P1, **kw: Any) -> dict[str, Any]:
    return f.subscription(SUB, CUS, status, period=period, **kw)


def linked() -> dict[str, Any]:
    return ev("customer.created", f.customer(CUS, account_ref=ACCT), T0 - 10)


def created_incomplete() -> dict[str, Any]:
    return ev("customer.subscription.created", sub("incomplete"), T0)


def paid() -> dict[str, Any]:
    return ev(
        "customer.subscription.updated", sub("active"), T0 + 2, previous={"status": "incomplete"}
    )


def renewal_failed() -> dict[str, Any]:  # period 2 starts; its invoice's payment failed
    return ev(
        "customer.subscription.updated",
        sub("past_due", P2),
        P2[0] + 3600,
        previous={"status": "active"},
    )


def ledger_of(runtime: Runtime) -> list[tuple[str, str, int]]:
    with runtime.sessions() as session:
        stmt = select(ENTRIES.c.entry_id, ENTRIES.c.kind, ENTRIES.c.credits).order_by(ENTRIES.c.id)
        return [tuple(r) for r in session.execute(stmt)]  # type: ignore[misc]


def balance(runtime: Runtime) -> dict[str, Any]:
    with runtime.sessions() as session:
        kept = assert_no_drift(session)
        row = ledger.balance_of(session, ACCT)
    assert row is not None
    return {**kept[ACCT], "period_start": int(row.period_start.timestamp())}


def test_an_incomplete_first_payment_grants_nothing_until_paid(runtime: Runtime) -> None:
    apply(runtime, linked(), created_incomplete())
    assert ledger_of(runtime) == []
    apply(runtime, paid())
    assert ledger_of(runtime) == [(f"period:{SUB}:{P1[0]}", "grant", PRO)]
    assert balance(runtime) == {
        "balance": PRO,
        "granted": PRO,
        "consumed": 0,
        "overage": 0,
        "period_start": P1[0],
    }


def test_a_failed_renewal_keeps_its_allowance_and_the_unused_one_expires(
    runtime: Runtime,
) -> None:
    apply(runtime, linked(), created_incomplete(), paid())
    with runtime.sessions.begin() as session:
        ledger.consume(
            session, consume_id="c1", account_ref=ACCT, credits=1000, meter=None, now=utcnow()
        )
    apply(runtime, renewal_failed())
    assert ledger_of(runtime) == [
        (f"period:{SUB}:{P1[0]}", "grant", PRO),
        ("consume:c1", "consume", -1000),
        (f"expire:{ACCT}:{P1[0]}", "expire", -3000),
        (f"period:{SUB}:{P2[0]}", "grant", PRO),
    ]
    assert balance(runtime) == {
        "balance": PRO,
        "granted": PRO,
        "consumed": 0,
        "overage": 0,
        "period_start": P2[0],
    }


def test_past_due_beyond_the_grace_period_grants_nothing(runtime: Runtime) -> None:
    late = ev("customer.subscription.updated", sub("past_due", P2), P2[0] + 8 * f.DAY)
    apply(runtime, linked(), late)
    assert ledger_of(runtime) == []


def test_rollover_keeps_the_unused_allowance(runtime: Runtime) -> None:
    rolled = dataclasses.replace(runtime, deps=dataclasses.replace(runtime.deps, rollover=True))
    apply(rolled, linked(), paid(), renewal_failed())
    assert balance(runtime)["balance"] == 2 * PRO


def test_a_plan_change_mid_period_grants_the_difference_once(runtime: Runtime) -> None:
    upgrade = ev(
        "customer.subscription.updated",
        sub("active", price_id="price_business_month"),
        T0 + 5 * f.DAY,
    )
    apply(runtime, linked(), paid(), upgrade, upgrade)
    assert ledger_of(runtime) == [
        (f"period:{SUB}:{P1[0]}", "grant", PRO),
        (f"period:{SUB}:{P1[0]}:{BUSINESS}", "grant", BUSINESS - PRO),
    ]
    downgrade = ev("customer.subscription.updated", sub("active"), T0 + 6 * f.DAY)
    apply(runtime, downgrade)
    assert len(ledger_of(runtime)) == 2  # a downgrade takes nothing back


def test_events_before_the_account_link_are_granted_at_the_link(runtime: Runtime) -> None:
    checkout = ev("checkout.session.completed", f.checkout("cs_p", ACCT, CUS, SUB), T0 + 3)
    apply(runtime, ev("customer.created", f.customer(CUS), T0 - 10), paid())
    assert ledger_of(runtime) == []
    apply(runtime, checkout, checkout)
    assert ledger_of(runtime) == [(f"period:{SUB}:{P1[0]}", "grant", PRO)]


def _ordering_events() -> list[dict[str, Any]]:
    return [linked(), created_incomplete(), paid(), renewal_failed()]


EVENTS = _ordering_events()


@pytest.mark.parametrize(
    "order", list(itertools.permutations(range(len(EVENTS)))), ids=lambda o: "".join(map(str, o))
)
def test_any_order_and_duplicates_grant_each_period_once(
    runtime: Runtime, order: tuple[int, ...]
) -> None:
    truncate(runtime.engine)
    events = [EVENTS[i] for i in order]
    apply(runtime, *events, *events[:2])  # and two duplicates delivered again
    entries = ledger_of(runtime)
    grants = [e for e in entries if e[1] == "grant"]
    assert len({e[0] for e in grants}) == len(grants)
    assert (f"period:{SUB}:{P2[0]}", "grant", PRO) in grants
    assert all(g[0] in {f"period:{SUB}:{P1[0]}", f"period:{SUB}:{P2[0]}"} for g in grants)
    # Period 1's allowance (if it was granted before period 2 began) expired unused.
    assert balance(runtime) == {
        "balance": PRO,
        "granted": PRO,
        "consumed": 0,
        "overage": 0,
        "period_start": P2[0],
    }


def test_an_event_in_a_period_granted_in_full_never_locks_the_balance(runtime: Runtime) -> None:
    """The common case (another update in a granted period) reads; it takes no balance lock."""
    from sqlalchemy import event

    apply(runtime, linked(), created_incomplete(), paid())
    assert balance(runtime)["granted"] == PRO
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        again = sub("active", quantity=2)
        apply(runtime, ev("customer.subscription.updated", again, T0 + 50))
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)
    touching = [s for s in seen if "credit_balances" in s]
    assert touching == [], touching
    assert balance(runtime)["granted"] == PRO


def _second_subscription() -> dict[str, Any]:
    other = f.subscription("sub_period_2", CUS, "active", period=P1, price_id="price_pro_month")
    return ev("customer.subscription.created", other, T0 + 4)


def _upgrade() -> dict[str, Any]:
    return ev(
        "customer.subscription.updated",
        sub("active", price_id="price_business_month"),
        T0 + 5 * f.DAY,
    )


@pytest.mark.parametrize("seed", range(6))
def test_one_message_grants_what_the_events_one_at_a_time_grant(
    runtime: Runtime, seed: int
) -> None:
    """A batch's dues are granted together at its end (or before another ledger write),
    in event order: the same entries and balance as one transaction per event."""
    import random

    events = [linked(), created_incomplete(), paid(), _second_subscription(), _upgrade()]
    events += [renewal_failed()]
    random.Random(seed).shuffle(events)
    truncate(runtime.engine)
    apply(runtime, *events)
    alone, alone_balance = ledger_of(runtime), balance(runtime)
    truncate(runtime.engine)
    assert apply_in_messages(runtime, events, [len(events)]) == 1
    assert ledger_of(runtime) == alone
    assert balance(runtime) == alone_balance


def test_a_message_grants_with_the_same_statements_whatever_its_size(runtime: Runtime) -> None:
    """Credit statements per message do not grow with the subscription events in it."""
    from sqlalchemy import event

    def credit_statements(customers: int) -> int:
        truncate(runtime.engine)
        lifecycle: list[dict[str, Any]] = []
        for n in range(customers):
            cus, acct, sub_id = f"cus_n{n}", f"org_n{n}", f"sub_n{n}"
            created = f.event("customer.created", f.customer(cus, account_ref=acct), T0 - 10)
            apply(runtime, created)
            for at, status, period in ((T0 + 2, "active", P1), (T0 + 9, "active", P1)):
                obj = f.subscription(sub_id, cus, status, period=period)
                lifecycle.append(f.event("customer.subscription.updated", obj, at))
        seen: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if "credit_" in statement:
                seen.append(statement)

        event.listen(runtime.engine, "before_cursor_execute", record)
        try:
            assert apply_in_messages(runtime, lifecycle, [len(lifecycle)]) == 1
        finally:
            event.remove(runtime.engine, "before_cursor_execute", record)
        with runtime.sessions() as session:
            assert_no_drift(session)
            grants = session.execute(select(ENTRIES.c.entry_id)).scalars().all()
        assert len(grants) == customers  # each period granted once
        return len(seen)

    assert credit_statements(2) == credit_statements(8)


def test_a_subscription_and_its_link_in_one_message_grant_at_the_link(runtime: Runtime) -> None:
    """The link reads the subscription rows the message's earlier events wrote (a batch
    defers its row writes: they are sent before the link looks for subscriptions)."""
    active = ev("customer.subscription.updated", sub("active"), T0 + 2)
    assert apply_in_messages(runtime, [active, linked()], [2]) == 1
    assert ledger_of(runtime) == [(f"period:{SUB}:{P1[0]}", "grant", PRO)]
