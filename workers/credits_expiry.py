"""The expiry step: manual and Stripe grants whose `expires_at` passed lose what is left.

The sweeper runs it every CREDITS_EXPIRY_INTERVAL_SECONDS (so Celery beat's `sweep` and the
embedded default run it too). The due grants are read in one transaction; each expiry is
then its own short transaction (it locks one balance row, as a consume does), idempotent by
the grant's entry id (`expired:<entry id>`), so two sweepers or a crash mid-pass expire
nothing twice.
"""

from __future__ import annotations

import time

import structlog

from domain.credits.grants import due_grants, expire_grant
from domain.types import utcnow
from workers.runtime import Runtime

log = structlog.get_logger("workers.credits_expiry")

BATCH = 500
_last_run = [float("-inf")]  # monotonic seconds of the last pass (one per process)


def expire_once(rt: Runtime, limit: int = BATCH) -> tuple[int, int]:
    """One pass: (grants expired, credits taken)."""
    now = utcnow()
    with rt.sessions.begin() as session:
        grants = due_grants(session, now, limit)
    taken = 0
    for grant in grants:
        with rt.sessions.begin() as session:
            taken += expire_grant(session, grant, now)
    if grants:
        log.info("credits.grants_expired", grants=len(grants), credits=taken)
    return len(grants), taken


def maybe_expire(rt: Runtime, *, now: float | None = None) -> bool:
    """Run a pass if CREDITS_EXPIRY_INTERVAL_SECONDS went by since the last one."""
    clock = time.monotonic() if now is None else now
    if clock - _last_run[0] < rt.settings.credits_expiry_interval_seconds:
        return False
    _last_run[0] = clock
    try:
        expire_once(rt)
    except Exception as exc:  # a database blip: the next interval tries again
        log.warning("credits.expiry_failed", error_type=type(exc).__name__)
        return False
    return True
