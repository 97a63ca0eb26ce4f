"""Fixtures of the read tests: the real app and the webhook -> processor pipeline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from domain.settings import Settings
from tests.read.support import Pipeline, app_client, app_settings
from workers.runtime import Runtime


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The real app with a read token and an ops-only token (events processed by the test)."""
    yield from app_client(app_settings())


@pytest.fixture
def pipe(client: TestClient, runtime: Runtime) -> Pipeline:
    return Pipeline(client, runtime)
