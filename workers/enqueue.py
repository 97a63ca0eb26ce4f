"""Publishing to the broker: the only piece of the worker side the HTTP edge imports."""

from __future__ import annotations

from collections.abc import Sequence

from celery import Celery

from workers.celery_app import DELIVER_NOTIFICATIONS, PROCESS_EVENTS, RUN_COMMANDS


def publish_event_batch(app: Celery, event_ids: Sequence[str]) -> None:
    """Send one message carrying a batch of event ids; raise if the broker refuses."""
    app.send_task(PROCESS_EVENTS, args=[list(event_ids)], queue="events", retry=False)


def chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def publish_events(app: Celery, event_ids: Sequence[str], batch_size: int) -> None:
    """Publish ids in batches of at most `batch_size`."""
    for chunk in chunks(event_ids, batch_size):
        publish_event_batch(app, chunk)


def publish_delivery(app: Celery, expires_seconds: float) -> None:
    """Ask a worker to deliver due notifications; a stale request expires unconsumed."""
    app.send_task(DELIVER_NOTIFICATIONS, queue="maintenance", retry=False, expires=expires_seconds)


def publish_commands(app: Celery, command_ids: Sequence[str]) -> None:
    """Send one message carrying command ids to the commands queue; raise if refused."""
    app.send_task(RUN_COMMANDS, args=[list(command_ids)], queue="commands", retry=False)
