"""The production Celery app with the tests' and the fault suite's handlers registered."""

from tests.faults.handlers import FAULT_HANDLERS
from tests.support.handlers import register
from workers.celery_app import app
from workers.handlers import HANDLERS

register(HANDLERS)
HANDLERS.update(FAULT_HANDLERS)

__all__ = ["app"]
