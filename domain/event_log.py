"""SQL for the event lifecycle table; every function runs inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from domain.envelope import EventEnvelope
from domain.models import DeadLetter, EventStatus, StripeEvent
from domain.redact import format_exception, scrub

EVENTS = cast(Table, StripeEvent.__table__)
DEAD = cast(Table, DeadLetter.__table__)
Executor = Connection | Session


@dataclass(frozen=True, slots=True)
class NewEvent:
    """A verified event about to be stored: its parsed envelope and the raw body."""

    envelope: EventEnvelope
    raw_body: str
    source: str = "webhook"


def dialect_insert(bind: Executor, table: Any) -> Any:
    """The dialect's INSERT (with ON CONFLICT support) for Postgres or SQLite."""
    return (postgresql.insert if _dialect(bind) == "postgresql" else sqlite.insert)(table)


def insert_events(bind: Executor, events: Sequence[NewEvent], now: datetime) -> set[str]:
    """INSERT ... ON CONFLICT DO NOTHING; return the ids that were new."""
    if not events:
        return set()
    if _dialect(bind) == "postgresql":
        return _insert_events_postgres(bind, events, now)
    rows = [
        {
            "event_id": e.envelope.event_id,
            "type": e.envelope.type,
            "api_version": e.envelope.api_version,
            "livemode": e.envelope.livemode,
            "account": e.envelope.account,
            "object_type": e.envelope.object_type,
            "object_id": e.envelope.object_id,
            "event_created": e.envelope.created,
            "raw_body": e.raw_body,
            "source": e.source,
            "received_at": now,
            "status": EventStatus.RECEIVED,
            "attempts": 0,
        }
        for e in events
    ]
    stmt = (
        dialect_insert(bind, EVENTS)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(EVENTS.c.event_id)
    )
    return set(bind.execute(stmt, rows).scalars())


_PG_INSERT = (
    "INSERT INTO stripe_events (event_id, type, api_version, livemode, account, object_type,"
    " object_id, event_created, raw_body, source, received_at, status, attempts)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'received', 0)"
    " ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)


def _insert_events_postgres(bind: Executor, events: Sequence[NewEvent], now: datetime) -> set[str]:
    # The ingest hot path: psycopg's pipelined executemany of one fixed (so prepared)
    # statement costs about a quarter of the CPU of SQLAlchemy's insertmanyvalues, measured
    # per row with bench/ingest.py. Same transaction: the raw cursor shares the connection.
    conn = bind.connection() if isinstance(bind, Session) else bind
    params = [
        (
            e.envelope.event_id,
            e.envelope.type,
            e.envelope.api_version,
            e.envelope.livemode,
            e.envelope.account,
            e.envelope.object_type,
            e.envelope.object_id,
            e.envelope.created,
            e.raw_body,
            e.source,
            now,
        )
        for e in events
    ]
    new: set[str] = set()
    with conn.connection.driver_connection.cursor() as cur:  # type: ignore[union-attr]
        cur.executemany(_PG_INSERT, params, returning=True)
        while True:
            new.update(row[0] for row in cur.fetchall())
            if not cur.nextset():
                break
    return new


def _dialect(bind: Executor) -> str:
    return bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name


def mark_published(bind: Executor, event_ids: Iterable[str], now: datetime) -> None:
    """received -> queued once the broker has the message (later states are left alone)."""
    ids = list(event_ids)
    if not ids:
        return
    if _dialect(bind) == "postgresql":
        _mark_published_postgres(bind, ids, now)
        return
    bind.execute(
        update(EVENTS)
        .where(
            EVENTS.c.event_id.in_(ids),
            EVENTS.c.status.in_([EventStatus.RECEIVED, EventStatus.QUEUED]),
        )
        .values(status=EventStatus.QUEUED, published_at=now)
    )


_PG_MARK_PUBLISHED = (
    "UPDATE stripe_events SET status = 'queued', published_at = %s"
    " WHERE event_id = ANY(%s) AND status IN ('received', 'queued')"
)


def _mark_published_postgres(bind: Executor, ids: list[str], now: datetime) -> None:
    # The edge publisher's statement, once per batch message: one fixed (so prepared)
    # statement with an array parameter, instead of SQLAlchemy rendering an expanding IN
    # of a different length each time (bench/ingest.py profile, docs/performance.md).
    conn = bind.connection() if isinstance(bind, Session) else bind
    with conn.connection.driver_connection.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(_PG_MARK_PUBLISHED, (now, ids))


@dataclass(frozen=True, slots=True)
class Claimed:
    """An event this worker now holds the lease on, with what the handler needs."""

    event_id: str
    type: str
    raw_body: str
    attempts: int


def claim(
    bind: Executor, event_ids: Sequence[str], token: str, now: datetime, lease: timedelta
) -> list[Claimed]:
    """Lease the claimable events among `event_ids` to this worker; return the ones won.

    Claimable: received/queued, retrying whose time has come, or processing whose lease
    expired. Terminal rows and rows leased by a live worker are skipped. The bodies come
    back in the same statement, so processing needs no further read.
    """
    c = EVENTS.c
    stmt = (
        update(EVENTS)
        .where(
            c.event_id.in_(list(event_ids)),
            or_(
                c.status.in_([EventStatus.RECEIVED, EventStatus.QUEUED]),
                and_(c.status == EventStatus.RETRYING, c.next_attempt_at <= now),
                and_(c.status == EventStatus.PROCESSING, c.lease_expires_at < now),
            ),
        )
        .values(status=EventStatus.PROCESSING, lease_token=token, lease_expires_at=now + lease)
        .returning(c.event_id, c.type, c.raw_body, c.attempts)
    )
    return [Claimed(*row) for row in bind.execute(stmt)]


def finish(bind: Executor, event_id: str, token: str, status: EventStatus, now: datetime) -> bool:
    """Mark a leased row processed or ignored, in the handler's transaction.

    Fenced by the lease token: False means the lease was lost (it expired and the event was
    handed out again), and the caller must roll back the handler's work.
    """
    result = bind.execute(
        _FINISH, {"eid": event_id, "token": token, "new_status": status, "now": now}
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish_many(
    bind: Executor, event_ids: Sequence[str], token: str, status: EventStatus, now: datetime
) -> int:
    """`finish` for several rows of one claim; returns how many were still leased by `token`."""
    if not event_ids:
        return 0
    result = bind.execute(
        _FINISH_MANY, {"eids": list(event_ids), "token": token, "new_status": status, "now": now}
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _finish_statement(id_matches: Any) -> Any:
    return (
        update(EVENTS)
        .where(
            id_matches,
            EVENTS.c.lease_token == bindparam("token"),
            EVENTS.c.status == EventStatus.PROCESSING,
        )
        .values(
            status=bindparam("new_status"),
            processed_at=bindparam("now"),
            lease_token=None,
            lease_expires_at=None,
            next_attempt_at=None,
            last_error=None,
        )
    )


# Built once: these run for every event, and building a statement costs more than running it.
_FINISH = _finish_statement(EVENTS.c.event_id == bindparam("eid"))
_FINISH_MANY = _finish_statement(EVENTS.c.event_id.in_(bindparam("eids", expanding=True)))


def locked_attempts(bind: Executor, event_id: str, token: str | None) -> int | None:
    """Lock the row (still leased by `token` when given) and return its attempt count."""
    c = EVENTS.c
    stmt = select(c.attempts).where(c.event_id == event_id).with_for_update()
    if token is not None:
        stmt = stmt.where(c.lease_token == token, c.status == EventStatus.PROCESSING)
    return bind.execute(stmt).scalar_one_or_none()


def schedule_retry(
    bind: Executor, event_id: str, attempts: int, next_attempt_at: datetime, error: str
) -> None:
    """Record a failed attempt and when the sweeper should hand the event out again."""
    error = scrub(error)
    bind.execute(
        update(EVENTS)
        .where(EVENTS.c.event_id == event_id)
        .values(
            status=EventStatus.RETRYING,
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            last_error=error,
            lease_token=None,
            lease_expires_at=None,
        )
    )


MESSAGE_LIMIT = 4000
TRACEBACK_LIMIT = 16000


@dataclass(frozen=True, slots=True)
class Failure:
    """What went wrong in the last attempt, as stored in dead_letters (scrubbed texts)."""

    error_type: str
    message: str
    traceback: str

    @classmethod
    def of(cls, exc: BaseException, sensitive: Collection[str] = ()) -> Failure:
        """The failure an exception describes, without personal data (see domain.redact).

        `sensitive` are the strings of the event's payload: an exception message or a
        traceback line may repeat any of them.
        """
        return cls(
            error_type=type(exc).__name__,
            message=scrub(str(exc), sensitive)[:MESSAGE_LIMIT],
            traceback=format_exception(exc, sensitive)[-TRACEBACK_LIMIT:],
        )

    def scrubbed(self) -> Failure:
        """The same failure with e-mails and parameter dumps removed (idempotent)."""
        return Failure(self.error_type, scrub(self.message), scrub(self.traceback))

    @property
    def summary(self) -> str:
        return f"{self.error_type}: {self.message}"[:2000]


def mark_dead(
    bind: Executor, event_id: str, attempts: int, failure: Failure, now: datetime
) -> None:
    """Attempts are used up: the event is dead and its dead letter holds the last error."""
    failure = failure.scrubbed()
    bind.execute(
        update(EVENTS)
        .where(EVENTS.c.event_id == event_id)
        .values(
            status=EventStatus.DEAD,
            attempts=attempts,
            last_error=failure.summary,
            next_attempt_at=None,
            lease_token=None,
            lease_expires_at=None,
        )
    )
    values = {
        "event_id": event_id,
        "failed_at": now,
        "attempts": attempts,
        "error_type": failure.error_type[:255],
        "error_message": failure.message,
        "traceback": failure.traceback,
    }
    ins = dialect_insert(bind, DEAD).values(values)
    # A replayed event that dies again keeps one dead letter (and its replay history).
    bind.execute(
        ins.on_conflict_do_update(
            index_elements=["event_id"],
            set_={k: ins.excluded[k] for k in values if k != "event_id"},
        )
    )
