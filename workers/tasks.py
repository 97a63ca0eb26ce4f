"""Celery task bodies: thin wrappers that hand work to the processor and the sweeper."""

from __future__ import annotations

import structlog

from workers.celery_app import (
    DELIVER_NOTIFICATIONS,
    PROCESS_EVENTS,
    PRUNE,
    REPORT_USAGE,
    RUN_COMMANDS,
    SWEEP,
    app,
)
from workers.commands.runner import run_commands
from workers.meters.run import report_once
from workers.notifier import deliver_due
from workers.processor import process_events
from workers.prune import PruneConfig, prune
from workers.runtime import get_gateway, get_runtime
from workers.sweeper import sweep_once

log = structlog.get_logger("workers.tasks")


@app.task(name=PROCESS_EVENTS, acks_late=True, reject_on_worker_lost=True)
def process_events_task(event_ids: list[str]) -> None:
    """Process a batch of stored events (the database decides what is still to do)."""
    outcome = process_events(get_runtime(), event_ids)
    log.debug(
        "task.batch_done",
        processed=len(outcome.processed),
        ignored=len(outcome.ignored),
        failed=len(outcome.failed),
        skipped=len(outcome.skipped),
    )


@app.task(name=RUN_COMMANDS, acks_late=True, reject_on_worker_lost=True)
def run_commands_task(command_ids: list[str]) -> None:
    """Run the accounts of these commands, oldest command first (the database decides)."""
    outcome = run_commands(get_runtime(), command_ids, get_gateway())
    log.debug(
        "task.commands_done",
        succeeded=len(outcome.succeeded),
        failed=len(outcome.failed),
        retrying=len(outcome.retrying),
    )


@app.task(name=SWEEP, acks_late=False)
def sweep_task() -> None:
    """One sweeper pass, for deployments that prefer Celery beat to `billing sweeper`."""
    sweep_once(get_runtime(), app)


@app.task(name=DELIVER_NOTIFICATIONS, acks_late=False)
def deliver_notifications_task() -> None:
    """Deliver due notifications to NOTIFY_URL (the sweeper asks for this every pass)."""
    outcome = deliver_due(get_runtime())
    log.debug(
        "task.notifications_done",
        delivered=len(outcome.delivered),
        retrying=len(outcome.retrying),
        dead=len(outcome.dead),
    )


@app.task(name=REPORT_USAGE, acks_late=False)
def report_usage_task() -> None:
    """One meter reporting pass (the sweeper and Celery beat ask for it every interval)."""
    report_once(get_runtime(), get_gateway())


@app.task(name=PRUNE, acks_late=False)
def prune_task() -> None:
    """Prune the event log past RETENTION_DAYS (the sweeper and Celery beat ask for it)."""
    rt = get_runtime()
    prune(rt.engine, PruneConfig.from_settings(rt.settings))
