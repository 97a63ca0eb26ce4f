"""The sweeper: re-publishes what the broker lost, expires dead leases, hands out due retries."""

from __future__ import annotations

import signal
import threading
import time
from datetime import timedelta
from types import FrameType

import structlog
from celery import Celery

from domain import event_log
from domain.commands.sweep import sweep_commands
from domain.mirror.delivery import has_due
from domain.retry import RetryPolicy
from domain.sweep import SweepResult, sweep
from domain.types import utcnow
from workers.credits_expiry import maybe_expire
from workers.enqueue import publish_commands, publish_delivery, publish_events
from workers.meters.run import trigger_report
from workers.metrics import count_lease_expiries
from workers.prune import trigger_prune
from workers.runtime import Runtime

log = structlog.get_logger("workers.sweeper")


def sweep_once(rt: Runtime, app: Celery) -> SweepResult:
    """One pass: take back lost work in one transaction, then publish it."""
    s = rt.settings
    with rt.sessions.begin() as session:
        result = sweep(
            session,
            utcnow(),
            timedelta(seconds=s.sweeper_grace_seconds),
            rt.retry_policy,
            s.sweeper_batch_size,
            max_wait=timedelta(seconds=s.sweeper_max_wait_seconds),
        )
    count_lease_expiries(result.retried_types, result.dead_types)  # after the commit
    _log_backlog(result)
    if result.republish:
        try:
            publish_events(app, result.republish, s.publish_batch_size)
        except Exception as exc:  # broker down: rows stay queued; the next pass retries them
            log.warning(
                "sweeper.publish_failed", count=len(result.republish), error_type=type(exc).__name__
            )
        else:
            with rt.sessions.begin() as session:
                event_log.mark_published(session, result.republish, utcnow())
    _sweep_commands(rt, app)
    if result.republish or result.expired:
        log.info(
            "sweeper.swept",
            republished=len(result.republish),
            lost=result.lost,  # queued rows among them (the rest: never published, due retries)
            leases_expired=result.expired,
            dead=result.dead,
        )
    trigger_delivery(rt, app)
    trigger_report(rt, app)  # usage to Stripe's meters, every USAGE_REPORT_INTERVAL_SECONDS
    maybe_expire(rt)  # expired manual and Stripe grants, every CREDITS_EXPIRY_INTERVAL_SECONDS
    return result


def _log_backlog(result: SweepResult) -> None:
    """One line a pass with the queue estimate; debug level while nothing is queued."""
    est = result.estimate
    drain = est.drain_s
    (log.info if est.backlog else log.debug)(
        "sweeper.backlog",
        backlog=est.backlog,
        throughput_per_s=round(est.throughput_per_s, 2),
        wait_s=round(est.wait_s, 2),
        drain_s=None if drain is None else round(drain, 1),
        lost_after_s=round(result.lost_after_s, 1),
    )


def trigger_delivery(rt: Runtime, app: Celery) -> bool:
    """Publish a delivery request when notifications are due (state lives in the outbox)."""
    if not rt.settings.notify_url:
        return False
    try:
        with rt.sessions() as session:
            if not has_due(session, utcnow()):
                return False
        # Expiring after a few passes keeps requests from piling up while workers are away;
        # the next pass asks again, so a lost or expired request costs one interval.
        publish_delivery(app, expires_seconds=max(30.0, rt.settings.sweeper_interval_seconds * 3))
    except Exception as exc:  # broker or database blip: the next pass tries again
        log.warning("sweeper.delivery_trigger_failed", error_type=type(exc).__name__)
        return False
    return True


def _sweep_commands(rt: Runtime, app: Celery) -> None:
    """The same for commands: expired leases become retries, lost heads are re-published."""
    s = rt.settings
    policy = RetryPolicy(s.retry_base_seconds, s.retry_cap_seconds, s.command_max_attempts)
    with rt.sessions.begin() as session:
        swept = sweep_commands(
            session,
            utcnow(),
            timedelta(seconds=s.sweeper_grace_seconds),
            policy,
            s.sweeper_batch_size,
        )
    if swept.republish:
        try:
            publish_commands(app, swept.republish)
        except Exception as exc:  # broker down: the next pass finds them again
            log.warning(
                "sweeper.publish_failed", count=len(swept.republish), error_type=type(exc).__name__
            )
    if swept.republish or swept.expired:
        log.info(
            "sweeper.commands_swept",
            republished=len(swept.republish),
            leases_expired=swept.expired,
            dead=swept.dead,
        )


def run_forever(rt: Runtime, app: Celery, stop: threading.Event | None = None) -> None:
    """Sweep every `sweeper_interval_seconds` until SIGTERM/SIGINT (or `stop` is set)."""
    stop = stop or threading.Event()

    def _stop(signum: int, _: FrameType | None) -> None:
        log.info("sweeper.stopping", signal=signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    interval = rt.settings.sweeper_interval_seconds
    log.info("sweeper.started", interval_s=interval, grace_s=rt.settings.sweeper_grace_seconds)
    while not stop.is_set():
        started = time.monotonic()
        try:
            sweep_once(rt, app)
        except Exception as exc:  # database blip: log and try again next interval
            log.error("sweeper.failed", error_type=type(exc).__name__, exc_info=exc)
        # Here, not in sweep_once: beat's sweep tasks (one clock per pool child) would ask
        # several times an interval; beat schedules the prune itself.
        trigger_prune(rt.settings, app)
        stop.wait(max(0.0, interval - (time.monotonic() - started)))
