"""The production Celery app plus the tests' handlers: `celery -A tests.support.worker_app`."""

from tests.support.handlers import register
from workers.celery_app import app
from workers.handlers import HANDLERS

register(HANDLERS)

__all__ = ["app"]
