"""Ops retry of dead/failed commands: back to `queued` with a fresh attempt budget, audited.

Idempotency keys: a `dead` command ran out of transient attempts, so Stripe may have done
the work on one of them; it keeps its key, and a retry gets Stripe's stored answer instead
of a second object. A `failed` command got a permanent error, which Stripe would replay
for 24 hours under the same key, so it gets a new key (the cause was fixed, e.g. a card).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import Engine, select, update

from domain.commands.models import CommandStatus
from domain.commands.store import COMMANDS
from domain.ops.audit import Actor, start_audit
from domain.ops.commands import RETRY_ACTION
from domain.types import utcnow

log = structlog.get_logger("domain.ops.commands")
RETRYABLE = frozenset({CommandStatus.DEAD, CommandStatus.FAILED})
Publish = Callable[[Sequence[str]], None]


@dataclass
class CommandRetryResult:
    """What a retry did (or, dry run, would do)."""

    dry_run: bool
    audit_id: int | None = None
    retried: list[str] = field(default_factory=list)
    by_type: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    publish_failed: bool = False

    @property
    def count(self) -> int:
        return sum(self.by_type.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "count": self.count,
            "by_type": self.by_type,
            "audit_id": self.audit_id,
            "retried": self.retried,
            "skipped": self.skipped,
            "publish_failed": self.publish_failed,
        }


class CommandRetryService:
    """Re-queues dead or failed commands; audited in `replay_audit`, published after commit."""

    def __init__(self, engine: Engine, publish: Publish) -> None:
        self.engine = engine
        self.publish = publish

    def retry(
        self,
        actor: Actor,
        command_ids: Sequence[str] = (),
        *,
        all_dead: bool = False,
        reason: str | None = None,
        dry_run: bool = False,
    ) -> CommandRetryResult:
        """Retry these commands (or every dead one); others are reported as skipped."""
        result = CommandRetryResult(dry_run=dry_run)
        c = COMMANDS.c
        with self.engine.begin() as conn:
            stmt = select(c.id, c.type, c.status, c.stripe_idempotency_key).order_by(c.seq)
            if all_dead:
                stmt = stmt.where(c.status == CommandStatus.DEAD)
            else:
                stmt = stmt.where(c.id.in_(list(dict.fromkeys(command_ids))))
            rows = conn.execute(stmt if dry_run else stmt.with_for_update()).all()
            found = {r.id: r for r in rows}
            todo = [r for r in rows if r.status in RETRYABLE]
            result.by_type = dict(Counter(r.type for r in todo))
            if todo and not dry_run:
                now = utcnow()
                selector = {
                    "command_ids": [r.id for r in todo],
                    "previous": {r.id: str(r.status) for r in todo},
                    "all_dead": all_dead,
                }
                result.audit_id = start_audit(conn, actor, RETRY_ACTION, selector, reason, now)
                for r in todo:
                    conn.execute(update(COMMANDS).where(c.id == r.id).values(**_fresh(r)))
                result.retried = [r.id for r in todo]
        for command_id in dict.fromkeys(command_ids):
            row = found.get(command_id)
            if row is None:
                result.skipped[command_id] = "no such command"
            elif row.status not in RETRYABLE:
                result.skipped[command_id] = f"{row.status}; only dead or failed commands retry"
        if result.retried:
            log.info(
                "command.requeued",
                audit_id=result.audit_id,
                actor=actor.name,
                via=actor.via,
                command_ids=result.retried,
            )
            try:
                self.publish(result.retried)
            except Exception as exc:  # committed as queued: the sweeper publishes them
                result.publish_failed = True
                log.warning("command.publish_failed", error_type=type(exc).__name__)
        return result


def _fresh(row: Any) -> dict[str, Any]:
    """The reset of one command: queued, no attempts, no lease, no outcome."""
    values: dict[str, Any] = {
        "status": CommandStatus.QUEUED,
        "attempts": 0,
        "next_attempt_at": None,
        "lease_token": None,
        "lease_expires_at": None,
        "published_at": None,
        "started_at": None,
        "finished_at": None,
        "result": None,
        "error": None,
        "last_error": None,
    }
    if row.status == CommandStatus.FAILED:
        base = row.stripe_idempotency_key.split("~")[0]
        values["stripe_idempotency_key"] = f"{base}~retry-{secrets.token_hex(6)}"
    return values
