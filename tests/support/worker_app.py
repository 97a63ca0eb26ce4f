"""The production Celery app plus the tests' handlers: `celery -A tests.support.worker_app`."""

from domain.mirror.families import REGISTRY
from tests.support.handlers import register
from workers.celery_app import app

register(REGISTRY)

__all__ = ["app"]
