"""Running the reporter: one pass for a task or the CLI, a loop, and the sweeper's trigger."""

from __future__ import annotations

import signal
import threading
import time
from types import FrameType

import structlog
from celery import Celery
from sqlalchemy import exists, select

from domain.usage.records import ReportStatus, UsageRecord
from workers.meters.reporter import MeterGateway, MeterReporter, ReporterConfig, ReportOutcome
from workers.runtime import Runtime

log = structlog.get_logger("workers.meters")

_reporters: dict[int, MeterReporter] = {}
_last_trigger = [0.0]


def reporter_for(rt: Runtime, gateway: MeterGateway) -> MeterReporter:
    """One reporter per gateway in this process, so its session token is reused."""
    key = id(gateway)
    reporter = _reporters.get(key)
    if reporter is None:
        reporter = MeterReporter(rt.sessions, gateway, ReporterConfig.from_settings(rt.settings))
        _reporters[key] = reporter
    return reporter


def report_once(rt: Runtime, gateway: MeterGateway) -> ReportOutcome:
    return reporter_for(rt, gateway).report_once()


def has_pending(rt: Runtime) -> bool:
    with rt.sessions() as session:
        query = select(exists().where(UsageRecord.report_status == ReportStatus.PENDING.value))
        return bool(session.scalar(query))


def trigger_report(rt: Runtime, app: Celery, *, now: float | None = None) -> bool:
    """Publish a report task every USAGE_REPORT_INTERVAL_SECONDS while usage is pending and
    STRIPE_API_KEY is set (the sweeper calls this each pass, so the embedded default reports
    too)."""
    from workers.celery_app import REPORT_USAGE

    if rt.settings.stripe_api_key is None:  # nowhere to report to (e.g. `billing dev` alone)
        return False
    interval = rt.settings.usage_report_interval_seconds
    clock = time.monotonic() if now is None else now
    if clock - _last_trigger[0] < interval:
        return False
    _last_trigger[0] = clock
    try:
        if not has_pending(rt):
            return False
        app.send_task(REPORT_USAGE, queue="maintenance", expires=max(30.0, interval * 2))
    except Exception as exc:  # broker or database blip: the next interval asks again
        log.warning("meters.trigger_failed", error_type=type(exc).__name__)
        return False
    return True


def run_forever(rt: Runtime, gateway: MeterGateway, stop: threading.Event | None = None) -> None:
    """Report every USAGE_REPORT_INTERVAL_SECONDS until SIGTERM/SIGINT (or `stop`)."""
    stop = stop or threading.Event()

    def _stop(signum: int, _: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    interval = rt.settings.usage_report_interval_seconds
    log.info("meters.started", interval_s=interval, api=rt.settings.usage_report_api)
    while not stop.is_set():
        started = time.monotonic()
        try:
            report_once(rt, gateway)
        except Exception as exc:  # database blip: log and try again next interval
            log.error("meters.failed", error_type=type(exc).__name__, exc_info=exc)
        stop.wait(max(0.0, interval - (time.monotonic() - started)))
