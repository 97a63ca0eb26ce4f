"""Tables of the event pipeline: raw Stripe events, dead letters, attempts, replay audit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from domain.types import UTCDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class EventStatus(StrEnum):
    """Where a stored event is in its lifecycle (see DESIGN.md)."""

    RECEIVED = "received"
    QUEUED = "queued"
    PROCESSING = "processing"
    PROCESSED = "processed"
    IGNORED = "ignored"
    RETRYING = "retrying"
    DEAD = "dead"


TERMINAL_STATUSES = frozenset({EventStatus.PROCESSED, EventStatus.IGNORED, EventStatus.DEAD})
CLAIMABLE_STATUSES = frozenset({EventStatus.RECEIVED, EventStatus.QUEUED, EventStatus.RETRYING})


def _enum(enum_cls: type[StrEnum], name: str) -> Enum:
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class StripeEvent(Base):
    """One Stripe event, stored once per event id, with its processing state."""

    __tablename__ = "stripe_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(255))
    api_version: Mapped[str | None] = mapped_column(String(64))
    livemode: Mapped[bool] = mapped_column(Boolean, default=False)
    account: Mapped[str | None] = mapped_column(String(255))
    object_type: Mapped[str | None] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(255))
    event_created: Mapped[int] = mapped_column(BigInteger)
    raw_body: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="webhook", server_default="webhook")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[EventStatus] = mapped_column(_enum(EventStatus, "event_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_token: Mapped[str | None] = mapped_column(String(36))
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # On Postgres the raw body lives out of line (TOAST, `toast_tuple_target = 128`,
    # migration 0020): a status change writes a row version without a copy of the body.
    __table_args__ = (
        # Partial indexes keep the sweeper's scans proportional to the backlog, not history.
        Index(
            "ix_stripe_events_unpublished",
            "status",
            "received_at",
            postgresql_where=text("status IN ('received', 'queued')"),
            sqlite_where=text("status IN ('received', 'queued')"),
        ),
        Index(
            "ix_stripe_events_leases",
            "lease_expires_at",
            postgresql_where=text("status = 'processing'"),
            sqlite_where=text("status = 'processing'"),
        ),
        Index(
            "ix_stripe_events_retry_due",
            "next_attempt_at",
            postgresql_where=text("status = 'retrying'"),
            sqlite_where=text("status = 'retrying'"),
        ),
        Index("ix_stripe_events_type_received", "type", "received_at"),
        # Retention walks the log oldest first (billing prune), in keyset batches; the ops
        # console counts events per minute of the last hour on it.
        Index("ix_stripe_events_received_at", "received_at"),
        # The sweeper's queue estimate reads the latest finished events (domain/sweep.py).
        Index(
            "ix_stripe_events_processed_at",
            "processed_at",
            postgresql_where=text("processed_at IS NOT NULL"),
            sqlite_where=text("processed_at IS NOT NULL"),
        ),
    )


class DeadLetter(Base):
    """An event whose attempts ran out: the last error, for ops to inspect and replay."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("stripe_events.event_id", ondelete="CASCADE"), unique=True
    )
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer)
    error_type: Mapped[str] = mapped_column(String(255))
    error_message: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str] = mapped_column(Text)
    replay_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_replayed_by: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (Index("ix_dead_letters_failed_at", "failed_at"),)


class EventAttempt(Base):
    """One failed processing attempt; kept across replays so history survives a reset."""

    __tablename__ = "event_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("stripe_events.event_id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    error_type: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_event_attempts_event_id", "event_id", "id"),
        Index("ix_event_attempts_failed_at", "failed_at"),  # failures per minute (console)
    )


class ReplayAudit(Base):
    """One ops action that re-queued events: who, when, why, which filter, how many."""

    __tablename__ = "replay_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(255))
    via: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    selector: Mapped[str] = mapped_column(Text)
    event_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (Index("ix_replay_audit_at", "at"),)


class ReplayAuditEvent(Base):
    """Which events one audited action re-queued (so `show` finds every replay of an event)."""

    __tablename__ = "replay_audit_events"

    audit_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("replay_audit.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[str] = mapped_column(
        String(255), ForeignKey("stripe_events.event_id", ondelete="CASCADE"), primary_key=True
    )
    previous_status: Mapped[str] = mapped_column(String(16))

    __table_args__ = (Index("ix_replay_audit_events_event_id", "event_id"),)


class BackfillRun(Base):
    """One backfill from Stripe's Events API: its fixed window and a cursor to resume from.

    Stripe lists events newest first, so the window's end is frozen at start (events created
    later arrive by webhook anyway) and `cursor` is the id of the last event stored: the
    next page is `starting_after=cursor`. The cursor and counters move in the same commit as
    the events of their page, so an interrupted run resumes without gaps or double counts.
    """

    __tablename__ = "backfill_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(16))  # running | done | superseded
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(255))
    via: Mapped[str] = mapped_column(String(16))
    window_start: Mapped[int] = mapped_column(BigInteger)  # unix seconds, created[gte]
    window_end: Mapped[int] = mapped_column(BigInteger)  # unix seconds, created[lte]
    types: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON list
    undelivered_only: Mapped[bool] = mapped_column(Boolean, default=False)
    cursor: Mapped[str | None] = mapped_column(String(255))
    oldest_created: Mapped[int | None] = mapped_column(BigInteger)
    pages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    seen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    new: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    already_had: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        Index(
            "ix_backfill_runs_running",
            "id",
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
    )


class ReconcileRun(Base):
    """One drift reconciliation: its window, object kinds and a cursor to resume from.

    Kinds are paged one after another (`kind_index` into `kinds`); `cursor` is the id of the
    last object of the current kind already compared (`starting_after`). The cursor, the
    counters and the page's findings move in one commit, like a backfill's.
    """

    __tablename__ = "reconcile_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(16))  # running | done | superseded
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(255))
    via: Mapped[str] = mapped_column(String(16))
    audit_id: Mapped[int | None] = mapped_column(Integer)
    window_start: Mapped[int] = mapped_column(BigInteger)  # unix seconds, created[gte]
    window_end: Mapped[int] = mapped_column(BigInteger)  # unix seconds, created[lte]
    kinds: Mapped[str] = mapped_column(Text)  # JSON list of object kinds, in paging order
    repair: Mapped[bool] = mapped_column(Boolean, default=False)
    kind_index: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cursor: Mapped[str | None] = mapped_column(String(255))
    pages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    seen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ReconcileItem(Base):
    """One object a reconcile run compared: same, missing, extra or differing (by field)."""

    __tablename__ = "reconcile_items"

    run_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("reconcile_runs.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))  # same | missing | extra | differing
    fields: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON list
    repaired: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
