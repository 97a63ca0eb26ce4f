"""Invariant 4: the final mirror does not depend on the order events arrive in."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.mirror.account_status import account_status
from domain.mirror.stripe_json import ApiShape
from tests.mirror import factory as f
from tests.mirror.lifecycle import ACCT, CUS, LIFECYCLES, PERIOD2, PM, SUB, lifecycle
from tests.mirror.support import apply, apply_in_messages, one, rows, snapshot, truncate
from workers.runtime import Runtime

T = 1_720_000_000


def sub_status(rt: Runtime, sub_id: str = "sub_o") -> dict[str, Any]:
    return one(rt.engine, "SELECT * FROM subscriptions WHERE id = :i", i=sub_id)


def test_lifecycle_in_order_gives_the_expected_mirror(runtime: Runtime) -> None:
    apply(runtime, *lifecycle(ApiShape.CURRENT))
    snap = snapshot(runtime.engine)
    [sub] = snap["subscriptions"]
    assert (sub["status"], sub["plan_tier"], sub["cancel_at_period_end"]) == (
        "canceled",
        "business",
        True,
    )
    assert sub["quantity"] == 1  # the same-second non-terminal update lost to the deletion
    assert [(i["id"], i["status"], i["attempt_count"]) for i in snap["invoices"]] == [
        ("in_1", "paid", 1),
        ("in_2", "paid", 2),
    ]
    assert snap["accounts"] == [
        {
            "account_ref": ACCT,
            "stripe_customer_id": CUS,
            "email": "billing@example.nl",
            "company_name": "Jansen BV",
            "vat_number": "NL123456789B01",
            "kvk_number": "12345678",
            "country": "NL",
            "default_payment_method_id": PM,
            "deleted": False,
        }
    ]
    assert snap["payment_methods"][0]["is_default"] is True
    assert sorted(n["kind"] for n in snap["notifications"]) == [
        "payment_failed",
        "subscription_activated",
        "subscription_canceled",
        "subscription_plan_changed",
    ]
    with runtime.sessions() as session:
        status = account_status(session, ACCT)
    assert status is not None
    assert (status.subscription_id, status.status, status.entitled) == (SUB, "canceled", False)
    assert status.current_period_end is not None
    assert status.current_period_end.timestamp() == PERIOD2[1]


@pytest.fixture(scope="module")
def in_order(request: pytest.FixtureRequest) -> dict[tuple[str, ApiShape], dict[str, Any]]:
    """The mirror after applying each lifecycle, in each shape, in creation order."""
    return {}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), shape=st.sampled_from(f.SHAPES))
@pytest.mark.parametrize("batched", [False, True], ids=["one_per_message", "batch_messages"])
@pytest.mark.parametrize("name", sorted(LIFECYCLES))
def test_any_permutation_with_duplicates_gives_the_in_order_mirror(
    runtime: Runtime,
    in_order: dict[tuple[str, ApiShape], dict[str, Any]],
    data: st.DataObject,
    name: str,
    shape: ApiShape,
    batched: bool,
) -> None:
    """Each family group's lifecycle (tests/mirror/lifecycle.py LIFECYCLES).

    Batched: several events per message, so one transaction with locks and stamps
    prepared up front, stamps kept current as the batch writes, writes deferred."""
    events = LIFECYCLES[name](shape)
    if (name, shape) not in in_order:
        truncate(runtime.engine)
        apply(runtime, *events)
        in_order[name, shape] = snapshot(runtime.engine)
    dupes = data.draw(st.lists(st.sampled_from(events), max_size=6), label="duplicates")
    order = data.draw(st.permutations(events + dupes), label="arrival order")
    sizes = [1]
    if batched:
        sizes = data.draw(st.lists(st.integers(2, 12), min_size=1, max_size=10), label="sizes")
    truncate(runtime.engine)
    together = apply_in_messages(runtime, order, sizes)
    assert snapshot(runtime.engine) == in_order[name, shape]
    assert bool(together) == batched  # the batch path ran (or, unbatched, never did)


def test_older_event_never_overwrites(runtime: Runtime) -> None:
    newer = f.event(
        "customer.subscription.updated", f.subscription("sub_o", CUS, "past_due"), T + 10
    )
    older = f.event("customer.subscription.updated", f.subscription("sub_o", CUS, "active"), T)
    apply(runtime, newer, older)
    row = sub_status(runtime)
    assert (row["status"], row["last_event_id"], row["last_event_created"]) == (
        "past_due",
        newer["id"],
        T + 10,
    )


def test_older_event_later_in_the_same_message_leaves_the_items(runtime: Runtime) -> None:
    """In one batch the stamp read up front must move with the batch's own writes."""
    upgrade = f.subscription("sub_o", CUS, "active", item_id="si_new", price_id="price_pro_year")
    newer = f.event("customer.subscription.updated", upgrade, T + 10)
    older = f.event(
        "customer.subscription.updated", f.subscription("sub_o", CUS, "active", item_id="si_old"), T
    )
    assert apply_in_messages(runtime, [newer, older], [2]) == 1
    items = rows(
        runtime.engine, "SELECT id FROM subscription_items WHERE subscription_id = 'sub_o'"
    )
    assert [r["id"] for r in items] == ["si_new"]
    assert sub_status(runtime)["last_event_id"] == newer["id"]


def test_default_payment_method_set_in_the_message_that_attaches_it(runtime: Runtime) -> None:
    """A batch's deferred payment method row must be written before it can be flagged."""
    created = f.event("customer.created", f.customer(CUS, account_ref=ACCT), T)
    attached = f.event("payment_method.attached", f.payment_method(PM, CUS), T + 1)
    default = f.event("customer.updated", f.customer(CUS, account_ref=ACCT, default_pm=PM), T + 2)
    assert apply_in_messages(runtime, [created, attached, default], [3]) == 1
    pm = one(runtime.engine, "SELECT * FROM payment_methods WHERE id = :i", i=PM)
    assert (pm["stripe_customer_id"], pm["is_default"]) == (CUS, True)


@pytest.mark.parametrize("terminal_first", [True, False])
@pytest.mark.parametrize(
    ("table", "obj_id", "terminal", "other"),
    [
        (
            "subscriptions",
            "sub_o",
            ("customer.subscription.deleted", f.subscription("sub_o", CUS, "canceled")),
            ("customer.subscription.updated", f.subscription("sub_o", CUS, "active")),
        ),
        (
            "subscriptions",
            "sub_o",
            ("customer.subscription.updated", f.subscription("sub_o", CUS, "incomplete_expired")),
            ("customer.subscription.updated", f.subscription("sub_o", CUS, "incomplete")),
        ),
        (
            "invoices",
            "in_o",
            ("invoice.voided", f.invoice("in_o", CUS, "sub_o", "void")),
            ("invoice.finalized", f.invoice("in_o", CUS, "sub_o", "open")),
        ),
        (
            "invoices",
            "in_o",
            ("invoice.paid", f.invoice("in_o", CUS, "sub_o", "paid", attempt_count=1)),
            ("invoice.payment_failed", f.invoice("in_o", CUS, "sub_o", "open", attempt_count=3)),
        ),
        (
            "payment_methods",
            "pm_o",
            ("payment_method.detached", f.payment_method("pm_o", None)),
            ("payment_method.updated", f.payment_method("pm_o", CUS)),
        ),
        (
            "checkout_sessions",
            "cs_o",
            ("checkout.session.expired", f.checkout("cs_o", None, None, None, status="expired")),
            ("checkout.session.completed", f.checkout("cs_o", None, None, None, status="open")),
        ),
    ],
)
def test_same_second_terminal_state_is_never_undone(
    runtime: Runtime,
    table: str,
    obj_id: str,
    terminal: tuple[str, dict[str, Any]],
    other: tuple[str, dict[str, Any]],
    terminal_first: bool,
) -> None:
    final = f.event(terminal[0], terminal[1], T)
    rival = f.event(other[0], other[1], T)
    apply(runtime, *([final, rival] if terminal_first else [rival, final]))
    row = one(runtime.engine, f"SELECT * FROM {table} WHERE id = :i", i=obj_id)
    assert row["last_event_id"] == final["id"]
    fixed = {"payment_methods": "detached", "checkout_sessions": "expired"}
    assert row["status"] == fixed.get(table, terminal[1].get("status"))


@pytest.mark.parametrize("reverse", [False, True])
def test_same_second_same_rank_is_deterministic(runtime: Runtime, reverse: bool) -> None:
    a = f.event(
        "customer.subscription.updated",
        f.subscription("sub_o", CUS, "active", quantity=3),
        T,
        event_id="evt_same_a",
    )
    b = f.event(
        "customer.subscription.updated",
        f.subscription("sub_o", CUS, "active", quantity=5),
        T,
        event_id="evt_same_b",
    )
    apply(runtime, *([b, a] if reverse else [a, b]))
    row = sub_status(runtime)
    assert (row["quantity"], row["last_event_id"]) == (5, "evt_same_b")  # larger id wins


def test_same_second_lifecycle_progress_wins(runtime: Runtime) -> None:
    created = f.event(
        "customer.subscription.created", f.subscription("sub_o", CUS, "incomplete"), T
    )
    activated = f.event("customer.subscription.updated", f.subscription("sub_o", CUS, "active"), T)
    apply(runtime, activated, created)
    assert sub_status(runtime)["status"] == "active"


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_updated_before_created_creates_the_row(runtime: Runtime, shape: ApiShape) -> None:
    updated = f.event(
        "customer.subscription.updated",
        f.subscription("sub_o", CUS, "active", shape=shape, price_id="price_starter_month"),
        T + 1,
        shape=shape,
    )
    created = f.event(
        "customer.subscription.created",
        f.subscription("sub_o", CUS, "incomplete", shape=shape),
        T,
        shape=shape,
    )
    apply(runtime, updated)
    row = sub_status(runtime)
    assert (row["status"], row["plan_tier"]) == ("active", "starter")
    apply(runtime, created)
    row = sub_status(runtime)
    assert (row["status"], row["plan_tier"], row["last_event_id"]) == (
        "active",
        "starter",
        updated["id"],
    )


def test_customer_deleted_before_its_subscription_events(runtime: Runtime) -> None:
    apply(
        runtime,
        f.event("customer.deleted", f.customer(CUS, account_ref=ACCT), T + 100),
        f.event("customer.subscription.created", f.subscription("sub_o", CUS, "active"), T),
        f.event("customer.subscription.deleted", f.subscription("sub_o", CUS, "canceled"), T + 100),
        f.event("customer.updated", f.customer(CUS, account_ref=ACCT, email="late@x.nl"), T + 50),
    )
    account = one(runtime.engine, "SELECT * FROM billing_accounts")
    assert (account["deleted"], account["email"]) == (True, "billing@example.nl")
    assert sub_status(runtime)["status"] == "canceled"
    with runtime.sessions() as session:
        status = account_status(session, ACCT)
    assert status is not None and status.entitled is False


def test_subscription_of_unknown_customer_is_linked_later(runtime: Runtime) -> None:
    apply(
        runtime,
        f.event("customer.subscription.created", f.subscription("sub_o", "cus_new", "active"), T),
    )
    assert rows(runtime.engine, "SELECT * FROM billing_accounts") == []
    with runtime.sessions() as session:
        assert account_status(session, "acct_new") is None
    # The customer appears without metadata, then a checkout links it to the account.
    apply(runtime, f.event("customer.created", f.customer("cus_new"), T + 1))
    apply(
        runtime,
        f.event(
            "checkout.session.completed", f.checkout("cs_n", "acct_new", "cus_new", "sub_o"), T + 2
        ),
    )
    account = one(runtime.engine, "SELECT * FROM billing_accounts")
    assert (account["account_ref"], account["stripe_customer_id"], account["email"]) == (
        "acct_new",
        "cus_new",
        "billing@example.nl",
    )
    with runtime.sessions() as session:
        status = account_status(session, "acct_new")
    assert status is not None
    assert (status.subscription_id, status.plan_tier, status.entitled) == ("sub_o", "pro", True)


def test_replay_and_forced_rerun_never_duplicate_notifications(runtime: Runtime) -> None:
    failed = f.event(
        "invoice.payment_failed", f.invoice("in_o", CUS, "sub_o", "open", attempt_count=1), T
    )
    apply(runtime, failed, failed)
    with runtime.engine.begin() as conn:  # ops "force re-run": processed -> queued again
        from sqlalchemy import text

        conn.execute(text("UPDATE stripe_events SET status = 'queued'"))
    apply(runtime, failed)
    assert [r["kind"] for r in rows(runtime.engine, "SELECT kind FROM notifications")] == [
        "payment_failed"
    ]
