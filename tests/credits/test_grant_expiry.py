"""Manual (and Stripe) grants' `expires_at` enforced: the rule, the ledger step, the sweeper's
pass. What is left of an expired grant expires once, never more than the balance, and the
balance row always equals the ledger."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.credits import grants, ledger
from domain.credits.rules import grant_remaining
from domain.credits.tables import ENTRIES, EntryKind, EntrySource
from domain.types import utcnow
from tests.credits.support import assert_no_drift, grant
from workers import credits_expiry
from workers.runtime import Runtime

ACCT = "org_expiry"


@pytest.mark.parametrize(
    ("credits", "spent", "taken", "balance", "expires"),
    [
        (500, 0, 0, 500, 500),  # untouched: all of it
        (500, 120, 0, 4380, 380),  # consumption after the grant is counted against it first
        (500, 800, 0, 3700, 0),  # spent entirely
        (500, 0, 0, 200, 200),  # never more than the balance
        (500, 0, 0, 0, 0),
        (500, 100, 150, 1000, 250),  # what was taken back already is not taken twice
        (500, 0, 500, 1000, 0),
        (500, -3, -3, 1000, 500),  # odd inputs never add
    ],
)
def test_the_rule(credits: int, spent: int, taken: int, balance: int, expires: int) -> None:
    assert grant_remaining(credits, spent, taken, balance) == expires


def manual(
    session: Session, entry_id: str, credits: int, expires_at: datetime | None, now: datetime
) -> None:
    ledger.append(
        session,
        ledger.NewEntry(
            entry_id=entry_id,
            account_ref=ACCT,
            kind=EntryKind.GRANT,
            credits=credits,
            source=EntrySource.MANUAL,
            reason="test",
            expires_at=expires_at,
        ),
        now,
    )


def spend(session: Session, entry_id: str, credits: int, now: datetime) -> None:
    ledger.append(
        session,
        ledger.NewEntry(
            entry_id=entry_id,
            account_ref=ACCT,
            kind=EntryKind.CONSUME,
            credits=-credits,
            source=EntrySource.GATE,
        ),
        now,
    )


def expired_entries(session: Session) -> list[tuple[str, int]]:
    e = ENTRIES.c
    stmt = select(e.entry_id, e.credits).where(e.kind == EntryKind.EXPIRE.value).order_by(e.id)
    return [(r.entry_id, r.credits) for r in session.execute(stmt)]


def balance(session: Session) -> int:
    row = ledger.balance_of(session, ACCT)
    assert row is not None
    return int(row.balance)


def test_an_expired_grant_loses_what_is_left_once(runtime: Runtime) -> None:
    now = utcnow()
    with runtime.sessions.begin() as session:
        grant(session, ACCT, 1000, "manual:base")  # no expiry: stays
        manual(session, "manual:soon", 500, now - timedelta(seconds=1), now - timedelta(days=2))
        manual(session, "manual:later", 300, now + timedelta(days=30), now - timedelta(days=2))
        spend(session, "consume:a", 120, now - timedelta(days=1))
    with runtime.sessions.begin() as session:
        assert grants.expire_due_grants(session, now) == 1
    with runtime.sessions.begin() as session:
        assert grants.expire_due_grants(session, now) == 0  # idempotent: nothing is due again
        assert expired_entries(session) == [("expired:manual:soon", -380)]
        assert balance(session) == 1000 + 500 + 300 - 120 - 380
        assert_no_drift(session)
    # The later grant once its day has come; the base grant never.
    later = now + timedelta(days=31)
    with runtime.sessions.begin() as session:
        assert grants.expire_due_grants(session, later) == 1
        assert expired_entries(session)[-1] == ("expired:manual:later", -180)
        assert_no_drift(session)


def test_never_more_than_the_balance_and_period_grants_are_not_touched(
    runtime: Runtime,
) -> None:
    now = utcnow()
    with runtime.sessions.begin() as session:
        manual(session, "manual:big", 500, now - timedelta(hours=1), now - timedelta(days=3))
        ledger.append(  # a period allowance has an expires_at too: the period expiry owns it
            session,
            ledger.NewEntry(
                entry_id="period:sub_x:1",
                account_ref=ACCT,
                kind=EntryKind.GRANT,
                credits=50,
                source=EntrySource.PERIOD,
                expires_at=now - timedelta(hours=1),
            ),
            now - timedelta(days=3),
        )
        ledger.append(  # taken by an adjust earlier, so the balance is below the grant
            session,
            ledger.NewEntry(
                entry_id="adjust:x",
                account_ref=ACCT,
                kind=EntryKind.ADJUST,
                credits=-400,
                source=EntrySource.MANUAL,
            ),
            now - timedelta(days=2),
        )
    with runtime.sessions.begin() as session:
        assert grants.expire_due_grants(session, now) == 1
        assert expired_entries(session) == [("expired:manual:big", -150)]
        assert balance(session) == 0
        assert_no_drift(session)


def test_a_grant_with_nothing_left_gets_a_zero_entry_and_is_not_picked_again(
    runtime: Runtime,
) -> None:
    now = utcnow()
    with runtime.sessions.begin() as session:
        grant(session, ACCT, 100, "manual:base")
        manual(session, "manual:spent", 40, now - timedelta(minutes=1), now - timedelta(days=1))
        spend(session, "consume:b", 60, now - timedelta(hours=1))
    with runtime.sessions.begin() as session:
        assert grants.expire_due_grants(session, now) == 1
        assert grants.due_grants(session, now, 10) == []
        assert expired_entries(session) == [("expired:manual:spent", 0)]
        assert balance(session) == 80
        assert_no_drift(session)


def test_the_sweepers_pass_expires_due_grants_at_its_interval(runtime: Runtime) -> None:
    now = utcnow()
    with runtime.sessions.begin() as session:
        manual(session, "manual:s1", 70, now - timedelta(seconds=5), now - timedelta(days=1))
        manual(session, "manual:s2", 30, now - timedelta(seconds=5), now - timedelta(days=1))
    credits_expiry._last_run[0] = float("-inf")
    assert credits_expiry.maybe_expire(runtime, now=1000.0)
    assert not credits_expiry.maybe_expire(runtime, now=1001.0)  # within the interval
    assert credits_expiry.expire_once(runtime) == (0, 0)  # nothing due twice
    with runtime.sessions.begin() as session:
        assert sorted(expired_entries(session)) == [
            ("expired:manual:s1", -70),
            ("expired:manual:s2", -30),
        ]
        assert balance(session) == 0
        assert_no_drift(session)


def test_a_stripe_grant_expires_and_a_later_void_takes_nothing_twice(runtime: Runtime) -> None:
    now = utcnow()
    with runtime.sessions.begin() as session:
        grant(session, ACCT, 1000, "manual:base")
        ledger.append(
            session,
            ledger.NewEntry(
                entry_id="stripe_grant:credgr_e",
                account_ref=ACCT,
                kind=EntryKind.GRANT,
                credits=200,
                source=EntrySource.STRIPE_GRANT,
                expires_at=now - timedelta(minutes=1),
            ),
            now - timedelta(days=1),
        )
    with runtime.sessions.begin() as session:
        assert grants.expire_due_grants(session, now) == 1
        row = session.execute(
            select(ENTRIES).where(ENTRIES.c.entry_id == "stripe_grant:credgr_e")
        ).one()
        assert grants._remaining(session, row, balance(session)) == 0
        assert expired_entries(session) == [("expired:stripe_grant:credgr_e", -200)]
        assert balance(session) == 1000
        assert_no_drift(session)


def test_the_expiry_step_on_sqlite(tmp_path: Path) -> None:
    """The embedded default: the same query (the `expired:` prefix concatenated in SQL)."""
    import domain.mirror  # noqa: F401  (every table on Base.metadata)
    from domain.db import make_engine
    from domain.models import Base

    engine = make_engine(f"sqlite:///{tmp_path / 'billing.db'}")
    Base.metadata.create_all(engine)
    try:
        now = utcnow()
        with Session(engine) as session, session.begin():
            grant(session, ACCT, 10, "manual:base")
            manual(session, "manual:q", 25, now - timedelta(seconds=1), now - timedelta(days=1))
            spend(session, "consume:q", 5, now - timedelta(hours=1))
        for _ in range(2):
            with Session(engine) as session, session.begin():
                grants.expire_due_grants(session, now)
        with Session(engine) as session:
            assert expired_entries(session) == [("expired:manual:q", -20)]
            assert balance(session) == 10
            assert_no_drift(session)
    finally:
        engine.dispose()
