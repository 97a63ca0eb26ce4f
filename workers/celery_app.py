"""The Celery app, configured for at-least-once delivery; Postgres stays the source of truth."""

from __future__ import annotations

from typing import Any

from celery import Celery, signals
from kombu import Exchange, Queue

from domain.logs import configure_logging
from domain.settings import Settings, load_settings

QUEUES = ("events", "commands", "maintenance")
PROCESS_EVENTS = "billing.process_events"
SWEEP = "billing.sweep"
DELIVER_NOTIFICATIONS = "billing.deliver_notifications"
RUN_COMMANDS = "billing.run_commands"
REPORT_USAGE = "billing.report_usage"
PRUNE = "billing.prune"


def transport_options(settings: Settings) -> dict[str, Any]:
    timeout = settings.broker_timeout_seconds
    options: dict[str, Any] = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
    if settings.effective_broker_url.startswith(("redis", "rediss")):
        options |= {
            # Far above any task's run time: Redis redelivers unacked messages after this.
            "visibility_timeout": max(7200, settings.task_time_limit_seconds * 10),
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "socket_keepalive": True,
            "health_check_interval": 25,
        }
        if settings.broker_key_prefix:
            options["global_keyprefix"] = settings.broker_key_prefix
    if _is_sqlite_broker(settings):
        # A polling transport: how long an idle consumer waits before it looks again.
        options["polling_interval"] = settings.broker_poll_interval_seconds
    return options


def _is_sqlite_broker(settings: Settings) -> bool:
    return settings.effective_broker_url.startswith(("sqla+sqlite:", "sqlalchemy+sqlite:"))


def broker_transport(settings: Settings) -> str | None:
    """The kombu transport for the broker URL (None: the one the URL's scheme names)."""
    if settings.effective_broker_url.startswith(("redis://", "rediss://")):
        from workers.redis_transport import TRANSPORT

        return TRANSPORT
    if _is_sqlite_broker(settings):
        from workers.sqlite_transport import TRANSPORT as SQLITE_TRANSPORT

        return SQLITE_TRANSPORT
    return None


def broker_connection_url(settings: Settings) -> str:
    """The URL Celery connects with: on SQLite without kombu's `sqla+` prefix, which would
    choose kombu's own transport over `broker_transport` (ours, above)."""
    url = settings.effective_broker_url
    return url.partition("+")[2] if _is_sqlite_broker(settings) else url


def prefetch_multiplier(settings: Settings) -> int:
    """Messages a worker process holds beyond the one it runs.

    1 on Redis and RabbitMQ: a message waits in the broker for whichever worker frees first.
    On the SQLite broker a full prefetch reads as an empty queue, and the consumer then
    sleeps a poll interval after every message: with 4, it fetches the next messages while
    the current one runs. Fetched messages are out of broker.db (kombu's SQLAlchemy transport
    has no broker-side ack); a warm shutdown puts them back, and after a crash the sweeper
    publishes their events again from billing.db.
    """
    return SQLITE_PREFETCH if _is_sqlite_broker(settings) else 1


SQLITE_PREFETCH = 4


def make_celery(settings: Settings) -> Celery:
    """Build the Celery app for these settings."""
    app = Celery("billing", broker=broker_connection_url(settings), include=["workers.tasks"])
    app.conf.update(
        broker_transport=broker_transport(settings),
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=prefetch_multiplier(settings),
        task_queues=[Queue(q, Exchange(q, type="direct"), routing_key=q) for q in QUEUES],
        task_default_queue="events",
        task_routes={
            PROCESS_EVENTS: {"queue": "events"},
            RUN_COMMANDS: {"queue": "commands"},
            SWEEP: {"queue": "maintenance"},
            DELIVER_NOTIFICATIONS: {"queue": "maintenance"},
            REPORT_USAGE: {"queue": "maintenance"},
            PRUNE: {"queue": "maintenance"},
        },
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        task_time_limit=settings.task_time_limit_seconds,
        task_soft_time_limit=max(1, settings.task_time_limit_seconds - 10),
        broker_transport_options=transport_options(settings),
        broker_connection_timeout=settings.broker_timeout_seconds,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        broker_heartbeat=0,
        task_publish_retry=False,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_enable_remote_control=False,
        beat_schedule={
            "sweep": {"task": SWEEP, "schedule": settings.sweeper_interval_seconds},
            "report_usage": {
                "task": REPORT_USAGE,
                "schedule": settings.usage_report_interval_seconds,
            },
            "prune": {"task": PRUNE, "schedule": settings.prune_interval_seconds},
        },
    )
    return app


_settings = load_settings()
app = make_celery(_settings)


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    # Connecting this signal stops Celery from installing its own handlers: one log format.
    configure_logging(_settings.log_format, _settings.log_level)
