"""structlog set up once: JSON when not on a TTY (or LOG_FORMAT=json), console otherwise."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

from domain.redact import scrub

_configured = False

# Keys that must never reach a log line, whatever a caller binds.
_REDACTED_KEYS = frozenset(
    {"secret", "token", "api_key", "authorization", "payload", "body", "email", "card"}
)


def _redact(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    for key in list(event_dict):
        if key.lower() in _REDACTED_KEYS:
            event_dict[key] = "[redacted]"
    return event_dict


def scrub_texts(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # Messages and rendered tracebacks may quote e-mails or SQL parameter dumps.
    for key, value in event_dict.items():
        if isinstance(value, str) and ("@" in value or "[" in value or "DETAIL" in value):
            event_dict[key] = scrub(value)
    return event_dict


def configure_logging(fmt: str = "auto", level: str = "INFO") -> None:
    """Configure structlog and stdlib logging; later calls are no-ops."""
    global _configured
    if _configured:
        return
    _configured = True
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    # JSON lines go out as bytes rendered by orjson: the cheapest path structlog offers,
    # which matters on the webhook hot path.
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            scrub_texts,
            structlog.processors.JSONRenderer(serializer=orjson.dumps) if use_json else renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=(
            structlog.BytesLoggerFactory(file=sys.stderr.buffer)
            if use_json
            else structlog.PrintLoggerFactory(file=sys.stderr)
        ),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    # Records from the standard library (uvicorn, Starlette, Celery, SQLAlchemy) carry
    # exc_info as a tuple: format it into a traceback, as structlog's own chain does, or
    # the renderer prints the tuple's repr and the traceback is lost.
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
            # Tracebacks of stdlib records (Celery's, uvicorn's) rendered here, so that
            # scrub_texts sees them as text (an exc_info tuple would go out as its repr).
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                *shared,
                structlog.processors.format_exc_info,
                scrub_texts,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> Any:
    """A structlog logger bound with the module name."""
    return structlog.get_logger(name)
