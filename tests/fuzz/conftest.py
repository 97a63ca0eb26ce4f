"""A live web process for the fuzz runs: uvicorn on this run's database, a fake Stripe for
the ops routes that call it, and one token per scope."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.commands.conftest import stripe_env
from tests.support.env import service_env
from tests.support.fake_stripe import FakeStripe
from tests.support.processes import Proc, start_server

TOKENS = {
    "commands": "fuzz-commands-0123456789",
    "read": "fuzz-read-0123456789abcd",
    "ops": "fuzz-ops-0123456789abcde",
}


@pytest.fixture(scope="module")
def fuzz_server(
    pg_engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """(base URL, log file) of a web process; its writes stay in this run's database."""
    fake = FakeStripe(hang_seconds=0.5).start()
    tokens = ",".join(f"fuzz{scope}:{token}:{scope}" for scope, token in TOKENS.items())
    env = service_env(API_TOKENS=tokens, **stripe_env(fake))
    logs = tmp_path_factory.mktemp("fuzz-logs")
    server: Proc
    server, url = start_server(env, logs)
    try:
        yield url, server.log_path
    finally:
        server.stop()
        fake.stop()
