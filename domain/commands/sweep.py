"""The sweeper's share of commands: expire dead leases, find heads nobody is running."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from domain.commands.store import expired_leases, fail, runnable_heads, schedule_retry
from domain.retry import RetryPolicy

LEASE_EXPIRED = {
    "type": "worker_error",
    "code": "lease_expired",
    "decline_code": None,
    "message": "the worker running this command died or overran its lease",
}


@dataclass
class CommandSweep:
    """Command ids to publish again, leases given up, commands now dead."""

    republish: list[str] = field(default_factory=list)
    expired: int = 0
    dead: int = 0


def sweep_commands(
    session: Session, now: datetime, grace: timedelta, policy: RetryPolicy, limit: int
) -> CommandSweep:
    """One pass in the caller's transaction."""
    result = CommandSweep()
    # An expired lease is a failed attempt: the call may or may not have reached Stripe,
    # which is fine, since the retry replays it under the same idempotency key.
    for command_id, attempts in expired_leases(session, now, limit):
        attempt = attempts + 1
        if policy.exhausted(attempt):
            fail(session, command_id, attempt, LEASE_EXPIRED, now, dead=True)
            result.dead += 1
        else:
            due = now + timedelta(seconds=policy.delay(attempt))
            schedule_retry(session, command_id, attempt, due, LEASE_EXPIRED)
        result.expired += 1
    result.republish = runnable_heads(session, now, grace, limit)
    return result
