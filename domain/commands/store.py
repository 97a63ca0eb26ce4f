"""SQL for the command lifecycle; every function runs inside the caller's transaction."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import orjson
from sqlalchemy import Table, and_, exists, or_, select, text, update
from sqlalchemy.orm import Session

from domain.commands.models import Command, CommandStatus
from domain.event_log import Executor, dialect_insert
from domain.redact import scrub_fields

COMMANDS = cast(Table, Command.__table__)
UNFINISHED = [CommandStatus.QUEUED, CommandStatus.RUNNING, CommandStatus.RETRYING]
Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class NewCommand:
    """A validated command about to be stored."""

    principal: str
    idempotency_key: str
    type: str
    account_ref: str
    params: dict[str, Any]

    @property
    def request_hash(self) -> str:
        """What "the same body" means for idempotency: type, account and canonical params."""
        doc = {"type": self.type, "account_ref": self.account_ref, "params": self.params}
        return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


def new_command_id() -> str:
    return f"cmd_{secrets.token_hex(12)}"


def insert_command(bind: Executor, cmd: NewCommand, now: datetime) -> tuple[Row, bool]:
    """Store the command once per (principal, key); return the row and whether it is new."""
    command_id = new_command_id()
    stmt = (
        dialect_insert(bind, COMMANDS)
        .values(
            id=command_id,
            principal=cmd.principal,
            idempotency_key=cmd.idempotency_key,
            request_hash=cmd.request_hash,
            type=cmd.type,
            account_ref=cmd.account_ref,
            params=cmd.params,
            # Ours, not the product's: unique per command, whatever keys the product reuses.
            stripe_idempotency_key=f"billing-{command_id}",
            status=CommandStatus.QUEUED,
            attempts=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["principal", "idempotency_key"])
        .returning(COMMANDS.c.id)
    )
    created = bind.execute(stmt).scalar_one_or_none() is not None
    c = COMMANDS.c
    row = (
        bind.execute(
            select(COMMANDS).where(
                c.principal == cmd.principal, c.idempotency_key == cmd.idempotency_key
            )
        )
        .mappings()
        .one()
    )
    return dict(row), created


def get_command(bind: Executor, command_id: str) -> Row | None:
    row = bind.execute(select(COMMANDS).where(COMMANDS.c.id == command_id)).mappings().first()
    return dict(row) if row else None


def account_refs(bind: Executor, command_ids: Iterable[str]) -> list[str]:
    """The accounts of these commands, oldest command first, each once."""
    c = COMMANDS.c
    rows = bind.execute(
        select(c.account_ref).where(c.id.in_(list(command_ids))).order_by(c.seq)
    ).scalars()
    return list(dict.fromkeys(rows))


def mark_published(bind: Executor, command_ids: Iterable[str], now: datetime) -> None:
    ids = list(command_ids)
    if ids:
        bind.execute(update(COMMANDS).where(COMMANDS.c.id.in_(ids)).values(published_at=now))


def lock_account(session: Session, account_ref: str) -> None:
    """Serialise claims for one account across workers until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"commands:{account_ref}"}
        )


def claim_head(
    session: Session, account_ref: str, token: str, now: datetime, lease: timedelta
) -> Row | None:
    """Lease the account's oldest unfinished command if it may run now, else None.

    Only the oldest unfinished command is ever runnable, which is what makes commands of one
    account run in order of arrival: a newer one waits while an older one runs or retries.
    """
    lock_account(session, account_ref)
    c = COMMANDS.c
    head = (
        session.execute(
            select(COMMANDS)
            .where(c.account_ref == account_ref, c.status.in_(UNFINISHED))
            .order_by(c.seq)
            .limit(1)
            .with_for_update()
        )
        .mappings()
        .first()
    )
    if head is None:
        return None
    runnable = head["status"] == CommandStatus.QUEUED or (
        head["status"] == CommandStatus.RETRYING and head["next_attempt_at"] <= now
    )
    if not runnable:
        return None
    session.execute(
        update(COMMANDS)
        .where(c.seq == head["seq"])
        .values(
            status=CommandStatus.RUNNING,
            lease_token=token,
            lease_expires_at=now + lease,
            started_at=now,
        )
    )
    return {**head, "status": CommandStatus.RUNNING, "lease_token": token}


def lock_leased(session: Session, command_id: str, token: str) -> Row | None:
    """Lock a command we still hold the lease on (None if the lease was lost)."""
    c = COMMANDS.c
    row = (
        session.execute(
            select(COMMANDS)
            .where(c.id == command_id, c.lease_token == token, c.status == CommandStatus.RUNNING)
            .with_for_update()
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def _settle(session: Session, command_id: str, **values: Any) -> None:
    session.execute(
        update(COMMANDS)
        .where(COMMANDS.c.id == command_id)
        .values(lease_token=None, lease_expires_at=None, **values)
    )


def succeed(session: Session, command_id: str, attempts: int, result: Row, now: datetime) -> None:
    _settle(
        session,
        command_id,
        status=CommandStatus.SUCCEEDED,
        attempts=attempts,
        result=result,
        error=None,
        last_error=None,
        next_attempt_at=None,
        finished_at=now,
    )


def fail(
    session: Session,
    command_id: str,
    attempts: int,
    error: Row,
    now: datetime,
    *,
    dead: bool,
    sensitive: Collection[str] = (),
) -> None:
    """Permanent failure (`failed`) or attempts used up (`dead`).

    The error is stored scrubbed (see domain.redact): Stripe's messages echo parameters
    such as e-mail addresses; `sensitive` are the command's parameter values.
    """
    error = scrub_fields(error, sensitive)
    _settle(
        session,
        command_id,
        status=CommandStatus.DEAD if dead else CommandStatus.FAILED,
        attempts=attempts,
        error=error,
        last_error=_summary(error),
        next_attempt_at=None,
        finished_at=now,
    )


def schedule_retry(
    session: Session,
    command_id: str,
    attempts: int,
    due: datetime,
    error: Row,
    sensitive: Collection[str] = (),
) -> None:
    """A transient failure: run again at `due` (the error is stored scrubbed, as in `fail`)."""
    error = scrub_fields(error, sensitive)
    _settle(
        session,
        command_id,
        status=CommandStatus.RETRYING,
        attempts=attempts,
        next_attempt_at=due,
        error=error,
        last_error=_summary(error),
    )


def _summary(error: Row) -> str:
    return f"{error.get('type')}/{error.get('code')}: {error.get('message')}"[:2000]


def expired_leases(session: Session, now: datetime, limit: int) -> list[tuple[str, int]]:
    """Lock running commands whose worker died or overran: (id, attempts)."""
    c = COMMANDS.c
    rows = session.execute(
        select(c.id, c.attempts)
        .where(c.status == CommandStatus.RUNNING, c.lease_expires_at < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    return [(r[0], r[1]) for r in rows]


def runnable_heads(session: Session, now: datetime, grace: timedelta, limit: int) -> list[str]:
    """Heads of their account that nobody seems to be running: never published, published
    long ago (message lost), or a retry that is due."""
    c = COMMANDS.c
    older = COMMANDS.alias("older")
    blocked = exists().where(
        older.c.account_ref == c.account_ref,
        older.c.seq < c.seq,
        older.c.status.in_(UNFINISHED),
    )
    stale = and_(
        c.status == CommandStatus.QUEUED,
        c.created_at < now - grace,
        or_(c.published_at.is_(None), c.published_at < now - grace),
    )
    due = and_(
        c.status == CommandStatus.RETRYING,
        c.next_attempt_at <= now,
        or_(
            c.published_at.is_(None),
            c.published_at < c.next_attempt_at,
            c.published_at < now - grace,
        ),
    )
    ids = list(
        session.execute(
            select(c.id)
            .where(or_(stale, due), ~blocked)
            .order_by(c.seq)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    mark_published(session, ids, now)
    return ids
