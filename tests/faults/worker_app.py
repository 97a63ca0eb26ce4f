"""The production Celery app with the tests' and the fault suite's handlers registered."""

from domain.mirror.families import REGISTRY
from tests.faults.handlers import FAULT_REGISTRY
from tests.support.handlers import register
from workers.celery_app import app

register(REGISTRY)
REGISTRY.update(FAULT_REGISTRY)

__all__ = ["app"]
