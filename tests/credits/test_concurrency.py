"""200 concurrent consumes of one account on Postgres: exact final balance, no overspend."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.credits import ledger
from domain.credits.tables import ENTRIES
from domain.db import make_engine
from domain.types import utcnow
from domain.usage.records import USAGE_RECORDS
from ingest.gate import Consume, GroupCommitGate
from ingest.gate_pg import PipelinedGate
from tests.credits.support import assert_no_drift, grant
from workers.runtime import Runtime

ACCT = "org_race"
CONSUMERS = 200


def race(runtime: Runtime, sizes: list[int], ids: list[str]) -> list[ledger.ConsumeOutcome]:
    """Every consume at once (released together), each in its own transaction and thread."""
    engine = make_engine(
        runtime.settings.effective_database_url,
        pool_size=32,
        transaction_pooler=runtime.settings.behind_transaction_pooler,
    )
    start = threading.Barrier(32)

    def one(n: int) -> ledger.ConsumeOutcome:
        if n < 32:
            start.wait()
        with Session(engine) as session, session.begin():
            return ledger.consume(
                session,
                consume_id=ids[n],
                account_ref=ACCT,
                credits=sizes[n],
                meter="api_credits",
                now=utcnow(),
            )

    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            return list(pool.map(one, range(len(sizes))))
    finally:
        engine.dispose()


def test_concurrent_consumers_never_overspend(runtime: Runtime) -> None:
    assert runtime.settings.effective_database_url.startswith("postgresql")
    with runtime.sessions.begin() as session:
        grant(session, ACCT, 450, "manual:1")
    sizes = [1 + n % 4 for n in range(CONSUMERS)]  # 500 credits asked for in all
    outcomes = race(runtime, sizes, [f"c{n}" for n in range(CONSUMERS)])
    spent = sum(s for s, o in zip(sizes, outcomes, strict=True) if o.allowed)
    refused = [o for o in outcomes if not o.allowed]
    assert spent <= 450 and refused
    with runtime.sessions() as session:
        kept = assert_no_drift(session)
        consumed = session.execute(select(func.count()).select_from(ENTRIES)).scalar_one() - 1
    assert kept[ACCT]["balance"] == 450 - spent >= 0
    assert consumed == len(outcomes) - len(refused)
    # Each answer's `remaining` is a distinct point of one serial history.
    remaining = sorted((o.body["remaining"] for o in outcomes if o.allowed), reverse=True)
    assert len(set(remaining)) == len(remaining)


def test_concurrent_payg_consumers_bill_exactly_the_shortfall(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        grant(session, ACCT, 100, "manual:1")
        ledger.set_payg(session, ACCT, True, utcnow())
    outcomes = race(runtime, [1] * CONSUMERS, [f"c{n}" for n in range(CONSUMERS)])
    assert all(o.allowed for o in outcomes)
    with runtime.sessions() as session:
        kept = assert_no_drift(session)
        billed = session.execute(select(func.sum(USAGE_RECORDS.c.quantity))).scalar_one()
    assert kept[ACCT] == {"balance": 0, "granted": 100, "consumed": 100, "overage": 100}
    assert billed == 100


def test_the_same_id_concurrently_is_spent_once(runtime: Runtime) -> None:
    with runtime.sessions.begin() as session:
        grant(session, ACCT, 1000, "manual:1")
    outcomes = race(runtime, [3] * 64, ["same"] * 64)
    assert {o.body["remaining"] for o in outcomes} == {997}
    assert sum(not o.replayed for o in outcomes) == 1
    with runtime.sessions() as session:
        assert assert_no_drift(session)[ACCT]["balance"] == 997


def test_the_group_commit_gate_serves_200_concurrent_requests_exactly(runtime: Runtime) -> None:
    """The app's path: 200 requests at once through the gate's batches (two threads)."""
    with runtime.sessions.begin() as session:
        grant(session, ACCT, 150, "manual:1")
        grant(session, "org_other", 30, "manual:2")
    engine = make_engine(
        runtime.settings.effective_database_url,
        pool_size=2,
        pre_ping=False,
        transaction_pooler=runtime.settings.behind_transaction_pooler,
    )
    gate = GroupCommitGate(engine, threads=2)

    async def all_at_once() -> list[ledger.ConsumeOutcome]:
        return await asyncio.gather(
            *(
                gate.consume(Consume(f"g{n % 190}", ACCT if n % 4 else "org_other", 1, None))
                for n in range(CONSUMERS)
            )
        )

    try:
        outcomes = asyncio.run(all_at_once())
    finally:
        gate.close()
        engine.dispose()
    with runtime.sessions() as session:
        kept = assert_no_drift(session)
    # 190 distinct ids (10 sent twice): 142 for ACCT, 48 for org_other, of which 30 fit.
    spent = {ACCT: 150 - kept[ACCT]["balance"], "org_other": 30 - kept["org_other"]["balance"]}
    assert spent == {ACCT: 142, "org_other": 30}
    assert sum(o.allowed and not o.replayed for o in outcomes) == 172


def test_the_pipelined_gate_serves_200_concurrent_requests_exactly(runtime: Runtime) -> None:
    """The web app's Postgres gate (one task, one connection): the same exact outcome."""
    with runtime.sessions.begin() as session:
        grant(session, ACCT, 150, "manual:1")
        grant(session, "org_other", 30, "manual:2")
        grant(session, "org_payg", 5, "manual:3")
        ledger.set_payg(session, "org_payg", True, utcnow())

    async def all_at_once() -> list[ledger.ConsumeOutcome]:
        gate = PipelinedGate(
            runtime.settings.effective_database_url,
            max_batch=50,
            transaction_pooler=runtime.settings.behind_transaction_pooler,
        )
        gate.start()
        try:
            return await asyncio.gather(
                *(
                    gate.consume(Consume(f"g{n % 190}", ACCT if n % 4 else "org_other", 1, None))
                    for n in range(CONSUMERS)
                ),
                *(gate.consume(Consume(f"p{n}", "org_payg", 2, "api_credits")) for n in range(5)),
            )
        finally:
            await gate.aclose()

    outcomes = asyncio.run(all_at_once())
    with runtime.sessions() as session:
        kept = assert_no_drift(session)
        billed = session.execute(select(func.sum(USAGE_RECORDS.c.quantity))).scalar_one()
    spent = {ACCT: 150 - kept[ACCT]["balance"], "org_other": 30 - kept["org_other"]["balance"]}
    assert spent == {ACCT: 142, "org_other": 30}
    assert sum(o.allowed and not o.replayed for o in outcomes[:CONSUMERS]) == 172
    # The repeats of an id got the first answer; the refusals recorded nothing.
    by_id: dict[str, set[int]] = {}
    for n, o in enumerate(outcomes[:CONSUMERS]):
        if o.allowed:
            by_id.setdefault(f"g{n % 190}", set()).add(o.body["remaining"])
    assert all(len(v) == 1 for v in by_id.values())
    assert kept["org_payg"] == {"balance": 0, "granted": 5, "consumed": 5, "overage": 5}
    assert billed == 5
    assert [o.body["overage"] for o in outcomes[CONSUMERS:]] == [0, 0, 1, 2, 2]


def test_the_pipelined_gate_answers_an_id_raced_in_by_another_transaction(
    runtime: Runtime,
) -> None:
    """An id consumed meanwhile for another account (whose row the gate did not lock): the
    gate's WRITE waits for that transaction, fails on the id, and the retry answers with
    the first answer; nothing is spent twice."""
    with runtime.sessions.begin() as session:
        grant(session, ACCT, 10, "manual:1")
        grant(session, "org_other", 10, "manual:2")
    engine = make_engine(
        runtime.settings.effective_database_url,
        pool_size=1,
        transaction_pooler=runtime.settings.behind_transaction_pooler,
    )
    holder = Session(engine)
    holder.begin()
    first = ledger.consume(
        holder, consume_id="x", account_ref="org_other", credits=3, meter=None, now=utcnow()
    )

    async def racing() -> list[ledger.ConsumeOutcome]:
        gate = PipelinedGate(
            runtime.settings.effective_database_url,
            transaction_pooler=runtime.settings.behind_transaction_pooler,
        )
        gate.start()
        try:
            both = asyncio.gather(
                gate.consume(Consume("x", ACCT, 4, None)), gate.consume(Consume("y", ACCT, 1, None))
            )
            await asyncio.sleep(0.5)  # the gate's WRITE now waits on the holder's entry
            await asyncio.to_thread(holder.commit)
            return list(await both)
        finally:
            await gate.aclose()

    try:
        outcomes = asyncio.run(racing())
    finally:
        holder.close()
        engine.dispose()
    assert outcomes[0].replayed and outcomes[0].body == first.body == {
        "remaining": 7,
        "overage": 0,
        "payg": False,
    }
    assert outcomes[1].body["remaining"] == 9 and not outcomes[1].replayed
    with runtime.sessions() as session:
        kept = assert_no_drift(session)
    assert (kept[ACCT]["balance"], kept["org_other"]["balance"]) == (9, 7)
