"""Celery app and tasks: event processing, sweeper, and the `billing` command line."""
