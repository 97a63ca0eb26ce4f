"""The `commands` table: one outbound Stripe call the product asked for, and its outcome."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

# The event tables' string-enum column type: stored by value, checked by a constraint.
from domain.models import Base, _enum
from domain.types import JSONType, UTCDateTime

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
SEQ = BigInteger().with_variant(Integer(), "sqlite")


class CommandStatus(StrEnum):
    """Where a command is in its lifecycle (docs/commands.md)."""

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"


FINISHED = frozenset({CommandStatus.SUCCEEDED, CommandStatus.FAILED, CommandStatus.DEAD})
UNFINISHED = frozenset({CommandStatus.QUEUED, CommandStatus.RUNNING, CommandStatus.RETRYING})
UNFINISHED_SQL = "status IN ('queued', 'running', 'retrying')"


class Command(Base):
    """A command; `seq` is the order of arrival, `id` the public handle."""

    __tablename__ = "commands"

    seq: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    principal: Mapped[str] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    account_ref: Mapped[str] = mapped_column(String(255))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # Sent to Stripe on every attempt (suffixed per step), so a retried call is a replay.
    stripe_idempotency_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[CommandStatus] = mapped_column(_enum(CommandStatus, "command_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_token: Mapped[str | None] = mapped_column(String(36))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("principal", "idempotency_key"),
        # "Oldest unfinished command of this account" must stay cheap however long history is.
        Index(
            "ix_commands_account_unfinished",
            "account_ref",
            "seq",
            postgresql_where=text(UNFINISHED_SQL),
            sqlite_where=text(UNFINISHED_SQL),
        ),
        Index(
            "ix_commands_sweep",
            "status",
            "seq",
            postgresql_where=text(UNFINISHED_SQL),
            sqlite_where=text(UNFINISHED_SQL),
        ),
    )
