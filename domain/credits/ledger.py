"""The ledger's writes and reads, in the caller's transaction.

Every entry is inserted with `ON CONFLICT (entry_id) DO NOTHING`, and only a new entry
moves the balance row, in the same transaction: the row is always the sum of the entries
(tests rebuild it). The balance row is locked (`SELECT ... FOR UPDATE` on Postgres; on
SQLite every transaction begins IMMEDIATE, which serialises writers) before a decision is
taken from it, so concurrent consumers never overspend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Row,
    String,
    bindparam,
    column,
    exists,
    select,
    update,
    values,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from domain.credits import rules
from domain.credits.tables import BALANCES, ENTRIES, EntryKind, EntrySource
from domain.event_log import dialect_insert
from domain.usage.records import NewUsage, UsageSource, add_usage

CONSUME_PREFIX = "consume:"
OVERAGE_PREFIX = "overage:"


@dataclass(frozen=True, slots=True)
class ConsumeOutcome:
    """The gate's answer: 200 with `body`, or 402 (`allowed` False, nothing recorded)."""

    allowed: bool
    body: dict[str, Any]
    replayed: bool = False  # the same id was answered before: this is that answer


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry to append (the balance row follows it)."""

    entry_id: str
    account_ref: str
    kind: EntryKind
    credits: int
    source: EntrySource
    reason: str | None = None
    expires_at: datetime | None = None
    subscription_id: str | None = None
    overage: int = 0
    answer: dict[str, Any] | None = None


def _lock_balance(session: Session, account_ref: str) -> Row[Any] | None:
    return session.execute(_LOCK_BALANCE, {"p_account": account_ref}).first()


# The ledger's per-entry statements are built once with bound parameters: a subscription
# event checks its period's grant in every batch, and building a statement costs more than
# running it (SQLAlchemy then finds its SQL cached, psycopg prepares it).
_LOCK_BALANCE = (
    select(BALANCES).where(BALANCES.c.account_ref == bindparam("p_account")).with_for_update()
)


@cache
def _create_balance(dialect: str) -> Any:
    make_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        make_insert(BALANCES)
        .values(
            account_ref=bindparam("p_account"),
            balance=0,
            payg=False,
            granted=0,
            consumed=0,
            overage=0,
            updated_at=bindparam("p_now", type_=BALANCES.c.updated_at.type),
        )
        .on_conflict_do_nothing(index_elements=["account_ref"])
    )


def create_balances(session: Session, account_refs: Sequence[str], now: datetime) -> None:
    """Create these accounts' balance rows at zero (an existing row is left alone)."""
    dialect = session.get_bind().dialect.name
    session.execute(
        _create_balance(dialect), [{"p_account": a, "p_now": now} for a in account_refs]
    )


def lock_or_create_balance(session: Session, account_ref: str, now: datetime) -> Row[Any]:
    """The account's balance row, created at zero if missing, locked for this transaction.

    One statement when the row exists (the usual case), three the first time.
    """
    row = _lock_balance(session, account_ref)
    if row is not None:
        return row
    create_balances(session, [account_ref], now)
    row = _lock_balance(session, account_ref)
    assert row is not None
    return row


def _entry_params(
    entry: NewEntry, period: tuple[datetime | None, datetime | None], now: datetime
) -> dict[str, Any]:
    return {
        "p_entry_id": entry.entry_id,
        "p_account_ref": entry.account_ref,
        "p_kind": entry.kind.value,
        "p_credits": entry.credits,
        "p_overage": entry.overage,
        "p_source": entry.source.value,
        "p_reason": entry.reason,
        "p_expires_at": entry.expires_at,
        "p_subscription_id": entry.subscription_id,
        "p_period_start": period[0],
        "p_period_end": period[1],
        "p_answer": entry.answer,
        "p_now": now,
    }


@cache
def _move_balance(totals: str) -> Any:
    """The balance UPDATE of one appended entry; `totals` names the period totals it moves."""
    b = BALANCES.c
    moved: dict[str, Any] = {
        "balance": b.balance + bindparam("p_credits", type_=BigInteger),
        "updated_at": bindparam("p_now", type_=b.updated_at.type),
    }
    if totals == "granted":
        moved["granted"] = b.granted + bindparam("p_credits", type_=BigInteger)
    elif totals == "consumed":
        moved["consumed"] = b.consumed - bindparam("p_credits", type_=BigInteger)
        moved["overage"] = b.overage + bindparam("p_overage", type_=BigInteger)
    return update(BALANCES).where(b.account_ref == bindparam("p_account")).values(moved)


def append(
    session: Session,
    entry: NewEntry,
    now: datetime,
    *,
    period: tuple[datetime | None, datetime | None] | None = None,
    current: tuple[datetime | None, datetime | None] | None = None,
) -> bool:
    """Append `entry` and move the (locked) balance; False if its entry_id was there already.

    The entry counts in `period` (default: the account's current period); the balance row's
    period totals move only for an entry of its current period. A caller that already holds
    the balance row's lock passes the account's `current` period (the row is not read again).
    """
    if current is None:
        row = lock_or_create_balance(session, entry.account_ref, now)
        current = (row.period_start, row.period_end)
    counted_in = period if period is not None else current
    dialect = session.get_bind().dialect.name
    params = _entry_params(entry, counted_in, now)
    if session.execute(_gate(dialect).insert, params).first() is None:
        return False
    totals = ""
    if counted_in[0] == current[0]:
        if entry.kind in (EntryKind.GRANT, EntryKind.ADJUST):
            totals = "granted"
        elif entry.kind is EntryKind.CONSUME:
            totals = "consumed"
    session.execute(_move_balance(totals), {**params, "p_account": entry.account_ref})
    return True


class _GateStatements:
    """The gate's statements, built once with bound parameters (the hot path compiles and
    builds nothing per request: SQLAlchemy's cache hits, psycopg prepares them)."""

    def __init__(self, dialect: str) -> None:
        self.lock = (
            select(
                BALANCES.c.balance, BALANCES.c.payg, BALANCES.c.period_start, BALANCES.c.period_end
            )
            .where(BALANCES.c.account_ref == bindparam("p_account"))
            .with_for_update()
        )
        self.answer = select(ENTRIES.c.answer).where(ENTRIES.c.entry_id == bindparam("p_entry"))
        columns = [
            *("entry_id", "account_ref", "kind", "credits", "overage", "source", "reason"),
            *("expires_at", "subscription_id", "period_start", "period_end", "answer"),
        ]
        values = {c: bindparam(f"p_{c}", type_=ENTRIES.c[c].type) for c in columns}
        values["created_at"] = bindparam("p_now", type_=ENTRIES.c.created_at.type)
        make_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        self.insert = (
            make_insert(ENTRIES)
            .values(values)
            .on_conflict_do_nothing(index_elements=["entry_id"])
            .returning(ENTRIES.c.id)
        )
        self.spend = (
            update(BALANCES)
            .where(BALANCES.c.account_ref == bindparam("p_account"))
            .values(
                balance=BALANCES.c.balance - bindparam("p_taken"),
                consumed=BALANCES.c.consumed + bindparam("p_taken"),
                overage=BALANCES.c.overage + bindparam("p_over"),
                updated_at=bindparam("p_now", type_=BALANCES.c.updated_at.type),
            )
        )
        # Postgres: the INSERT in a CTE of the UPDATE, one statement (one round trip).
        inserted = self.insert.cte("inserted")
        self.insert_and_spend = (
            self.spend.where(exists(select(inserted.c.id)))
            .returning(BALANCES.c.account_ref)
            .add_cte(inserted)
        )


@cache
def _gate(dialect: str) -> _GateStatements:
    return _GateStatements(dialect)


def consume(
    session: Session,
    *,
    consume_id: str,
    account_ref: str,
    credits: int,
    meter: str | None,
    now: datetime,
) -> ConsumeOutcome:
    """The gate: spend `credits` of the account, once per `consume_id`.

    A shortfall with pay-as-you-go on (and a meter to bill through) is overage: what is left
    is spent, the rest recorded on the entry and as an `overage:<id>` usage record, in this
    transaction. Without pay-as-you-go it is a refusal and nothing is written. Postgres: two
    statements (lock; insert-and-spend); SQLite: three.
    """
    dialect = session.get_bind().dialect.name
    sql = _gate(dialect)
    entry_id = CONSUME_PREFIX + consume_id
    row = session.execute(sql.lock, {"p_account": account_ref}).first()
    balance, payg = (row.balance, row.payg) if row is not None else (0, False)
    decision = rules.decide_consume(balance, credits, payg=payg and meter is not None)
    if not decision.allowed:
        first = session.execute(sql.answer, {"p_entry": entry_id}).scalar_one_or_none()
        if first is not None:
            return ConsumeOutcome(True, first, replayed=True)
        return ConsumeOutcome(
            False, {"remaining": decision.remaining, "overage": 0, "payg": bool(payg)}
        )
    answer = {"remaining": decision.remaining, "overage": decision.overage, "payg": bool(payg)}
    assert row is not None  # allowed means a positive balance or payg: the row exists
    params = {
        "p_entry_id": entry_id,
        "p_account_ref": account_ref,
        "p_kind": EntryKind.CONSUME.value,
        "p_credits": -decision.taken,
        "p_overage": decision.overage,
        "p_source": EntrySource.GATE.value,
        "p_reason": None,
        "p_expires_at": None,
        "p_subscription_id": None,
        "p_period_start": row.period_start,
        "p_period_end": row.period_end,
        "p_answer": answer,
        "p_now": now,
        "p_account": account_ref,
        "p_taken": decision.taken,
        "p_over": decision.overage,
    }
    if dialect == "postgresql":
        spent = session.execute(sql.insert_and_spend, params).first() is not None
    else:
        spent = session.execute(sql.insert, params).first() is not None
        if spent:
            session.execute(sql.spend, params)
    if not spent:  # the same id, committed first by another transaction: its answer
        first = session.execute(sql.answer, {"p_entry": entry_id}).scalar_one()
        return ConsumeOutcome(True, first, replayed=True)
    if decision.overage:
        assert meter is not None
        usage = NewUsage(
            id=OVERAGE_PREFIX + consume_id,
            account_ref=account_ref,
            meter=meter,
            quantity=decision.overage,
            occurred_at=now,
            source=UsageSource.OVERAGE,
        )
        add_usage(session, [usage], now)
    return ConsumeOutcome(True, answer)


@dataclass(frozen=True, slots=True)
class ConsumeRequest:
    """One consume of a batch (ingest.gate)."""

    consume_id: str
    account_ref: str
    credits: int
    meter: str | None


class BatchRaced(Exception):
    """An entry id of the batch was inserted meanwhile by another transaction (for another
    account, whose row this batch did not lock): apply the batch's consumes one by one."""


class LockedBalance(NamedTuple):
    """What a consume is decided from: the account's locked balance row."""

    balance: int
    payg: bool
    period_start: datetime | None
    period_end: datetime | None


@dataclass(slots=True)
class BatchPlan:
    """A batch's decisions and the writes that record them (see `plan_batch`)."""

    outcomes: list[ConsumeOutcome]
    entries: list[dict[str, Any]]  # consume entries to append (columns of ENTRIES)
    moved: dict[str, list[int]]  # account -> [taken, overage]
    usage: list[NewUsage]  # overage usage records


def plan_batch(
    requests: Sequence[ConsumeRequest],
    rows: Mapping[str, LockedBalance],
    answered: Mapping[str, dict[str, Any]],
    now: datetime,
) -> BatchPlan:
    """Decide a batch's consumes in order from the locked rows (pure: no I/O).

    `answered` holds the answers of ids consumed before; a repeat of an id in the batch gets
    the first answer, a refusal records nothing.
    """
    seen = dict(answered)
    balances = {a: (r.balance, r.payg) for a, r in rows.items()}
    plan = BatchPlan([], [], {}, [])
    for req in requests:
        entry_id = CONSUME_PREFIX + req.consume_id
        if entry_id in seen:
            plan.outcomes.append(ConsumeOutcome(True, seen[entry_id], replayed=True))
            continue
        balance, payg = balances.get(req.account_ref, (0, False))
        decision = rules.decide_consume(balance, req.credits, payg=payg and req.meter is not None)
        if not decision.allowed:
            body = {"remaining": decision.remaining, "overage": 0, "payg": bool(payg)}
            plan.outcomes.append(ConsumeOutcome(False, body))
            continue
        answer = {"remaining": decision.remaining, "overage": decision.overage, "payg": bool(payg)}
        seen[entry_id] = answer
        balances[req.account_ref] = (balance - decision.taken, payg)
        totals = plan.moved.setdefault(req.account_ref, [0, 0])
        totals[0] += decision.taken
        totals[1] += decision.overage
        row = rows[req.account_ref]
        plan.entries.append(
            {
                "entry_id": entry_id,
                "account_ref": req.account_ref,
                "kind": EntryKind.CONSUME.value,
                "credits": -decision.taken,
                "overage": decision.overage,
                "source": EntrySource.GATE.value,
                "period_start": row.period_start,
                "period_end": row.period_end,
                "answer": answer,
                "created_at": now,
            }
        )
        if decision.overage:
            assert req.meter is not None
            plan.usage.append(
                NewUsage(
                    OVERAGE_PREFIX + req.consume_id,
                    req.account_ref,
                    req.meter,
                    decision.overage,
                    now,
                    UsageSource.OVERAGE,
                )
            )
        plan.outcomes.append(ConsumeOutcome(True, answer))
    return plan


def consume_batch(
    session: Session, requests: Sequence[ConsumeRequest], now: datetime
) -> list[ConsumeOutcome]:
    """Many consumes in one transaction, with a fixed number of statements whatever their count.

    The same decisions as `consume`, in order (`plan_batch`): the batch's balance rows are
    locked at once (in account order, so two batches never deadlock), the ids answered
    before are read at once, then one INSERT appends the entries, one UPDATE moves the
    balances and one INSERT stores the overage usage. (The Postgres gate of the web app
    runs the same plan with its own statements: ingest/gate_pg.py.)
    """
    accounts = sorted({r.account_ref for r in requests})
    lock = (
        select(BALANCES.c.account_ref, BALANCES.c.balance, BALANCES.c.payg)
        .add_columns(BALANCES.c.period_start, BALANCES.c.period_end)
        .where(BALANCES.c.account_ref.in_(accounts))
        .order_by(BALANCES.c.account_ref)
        .with_for_update()
    )
    rows = {
        r.account_ref: LockedBalance(r.balance, r.payg, r.period_start, r.period_end)
        for r in session.execute(lock)
    }
    ids = sorted({CONSUME_PREFIX + r.consume_id for r in requests})
    answered: dict[str, dict[str, Any]] = {
        entry_id: answer
        for entry_id, answer in session.execute(
            select(ENTRIES.c.entry_id, ENTRIES.c.answer).where(ENTRIES.c.entry_id.in_(ids))
        )
    }
    plan = plan_batch(requests, rows, answered, now)
    if plan.entries:
        stmt = (
            dialect_insert(session, ENTRIES)
            .on_conflict_do_nothing(index_elements=["entry_id"])
            .returning(ENTRIES.c.entry_id)
        )
        if len(set(session.execute(stmt, plan.entries).scalars())) != len(plan.entries):
            raise BatchRaced
        _spend_many(session, plan.moved, now)
        add_usage(session, plan.usage, now)
    return plan.outcomes


def _spend_many(session: Session, moved: dict[str, list[int]], now: datetime) -> None:
    """Move every account's balance: one UPDATE ... FROM (VALUES ...) on Postgres."""
    rows = [(a, t, o) for a, (t, o) in sorted(moved.items())]
    if session.get_bind().dialect.name != "postgresql":
        session.execute(
            _gate("sqlite").spend,
            [{"p_account": a, "p_taken": t, "p_over": o, "p_now": now} for a, t, o in rows],
        )
        return
    v = values(
        column("account_ref", String),
        column("taken", BigInteger),
        column("over", BigInteger),
        name="moved",
    ).data(rows)
    session.execute(
        update(BALANCES)
        .where(BALANCES.c.account_ref == v.c.account_ref)
        .values(
            balance=BALANCES.c.balance - v.c.taken,
            consumed=BALANCES.c.consumed + v.c.taken,
            overage=BALANCES.c.overage + v.c.over,
            updated_at=now,
        )
    )


def set_payg(session: Session, account_ref: str, on: bool, now: datetime) -> None:
    """Turn pay-as-you-go on or off for the account (the payg commands call this)."""
    lock_or_create_balance(session, account_ref, now)
    session.execute(
        update(BALANCES)
        .where(BALANCES.c.account_ref == account_ref)
        .values(payg=on, updated_at=now)
    )


def balance_of(session: Session, account_ref: str) -> Row[Any] | None:
    """The account's balance row (None: nothing was ever granted or consumed)."""
    stmt = select(BALANCES).where(BALANCES.c.account_ref == account_ref)
    return session.execute(stmt).first()


def ledger_page(
    session: Session, account_ref: str, *, limit: int, before: int | None
) -> tuple[list[Row[Any]], int | None]:
    """Entries newest first, `limit` at most, older than entry `before`; and the next cursor."""
    stmt = select(ENTRIES).where(ENTRIES.c.account_ref == account_ref)
    if before is not None:
        stmt = stmt.where(ENTRIES.c.id < before)
    rows = list(session.execute(stmt.order_by(ENTRIES.c.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


def rebuilt_balances(session: Session) -> dict[str, dict[str, int]]:
    """Every account's balance and period totals recomputed from the ledger alone."""
    out: dict[str, dict[str, int]] = {}
    periods = {r.account_ref: r.period_start for r in session.execute(select(BALANCES))}
    for e in session.execute(select(ENTRIES)):
        totals = out.setdefault(
            e.account_ref, {"balance": 0, "granted": 0, "consumed": 0, "overage": 0}
        )
        totals["balance"] += e.credits
        if e.period_start != periods.get(e.account_ref):
            continue
        if e.kind in (EntryKind.GRANT.value, EntryKind.ADJUST.value):
            totals["granted"] += e.credits
        elif e.kind == EntryKind.CONSUME.value:
            totals["consumed"] -= e.credits
            totals["overage"] += e.overage
    return out
