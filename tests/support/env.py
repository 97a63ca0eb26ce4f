"""Where the test services are, and the settings every test process shares."""

from __future__ import annotations

import os
import secrets
import socket

from sqlalchemy.engine import make_url


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The CLI's rich consoles take their width from COLUMNS when workers.cli is imported (any
# test may import it first, in any worker): one width for every test, terminal or not.
os.environ["COLUMNS"] = "200"

# Each test run works in a database and a broker namespace of its own, so two runs on one
# machine (a session and CI, say) never see each other's rows or messages. TEST_DATABASE_URL
# names the server (and the prefix of the run's database); the run creates and drops its own.
SERVER_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://127.0.0.1/test")
RUN_ID = os.environ.setdefault("BILLING_TEST_RUN_ID", f"r{os.getpid()}_{secrets.token_hex(3)}")
# Under pytest-xdist each worker process is a run of its own (the controller's id + its name).
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER and not RUN_ID.endswith(f"_{_XDIST_WORKER}"):
    RUN_ID = os.environ["BILLING_TEST_RUN_ID"] = f"{RUN_ID}_{_XDIST_WORKER}"
_server = make_url(SERVER_DATABASE_URL)
RUN_DATABASE_PREFIX = f"{_server.database or 'test'}_r"
TEST_DATABASE_URL = _server.set(database=f"{_server.database or 'test'}_{RUN_ID}").render_as_string(
    hide_password=False
)
# TEST_VIA_PGBOUNCER=1: the service processes and the in-process runtimes reach the run's
# database through a PgBouncer in transaction mode (tests/support/pgbouncer.py, started by
# tests/conftest.py on this port) with DATABASE_POOLER=transaction; the tests' own checks
# still read Postgres directly. Only the subset of tests/support/pgbouncer_subset.py runs.
VIA_PGBOUNCER = os.environ.get("TEST_VIA_PGBOUNCER", "") == "1"
PGBOUNCER_PORT = (
    int(os.environ.setdefault("BILLING_TEST_PGBOUNCER_PORT", str(_free_port())))
    if VIA_PGBOUNCER
    else 0
)
SERVICE_DATABASE_URL = (
    make_url(TEST_DATABASE_URL)
    .set(host="127.0.0.1", port=PGBOUNCER_PORT)
    .render_as_string(hide_password=False)
    if VIA_PGBOUNCER
    else TEST_DATABASE_URL
)
POOLER_ENV = {"DATABASE_POOLER": "transaction"} if VIA_PGBOUNCER else {}
TEST_BROKER_URL = os.environ.get("TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
BROKER_KEY_PREFIX = f"billing-test-{RUN_ID}:"
WEBHOOK_SECRET = "whsec_test_primary_0123456789abcdef"
SECOND_SECRET = "whsec_test_rolled_fedcba9876543210"
API_TOKEN = "test-token-0123456789abcdef"

# Short timings so retries, leases and sweeps happen within a test's patience.
FAST_TIMINGS = {
    "RETRY_BASE_SECONDS": "0.2",
    "RETRY_CAP_SECONDS": "2",
    "RETRY_MAX_ATTEMPTS": "4",
    "LEASE_SECONDS": "3",
    "TASK_TIME_LIMIT_SECONDS": "30",
    "SWEEPER_INTERVAL_SECONDS": "0.3",
    "SWEEPER_GRACE_SECONDS": "1",
    "BROKER_TIMEOUT_SECONDS": "1",
    # Scrapes see the database as it is now (the cache has tests of its own).
    "METRICS_CACHE_SECONDS": "0",
}


def service_env(**extra: str) -> dict[str, str]:
    """Environment for a child process (uvicorn, celery, sweeper) under test."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": SERVICE_DATABASE_URL,
            **POOLER_ENV,
            "BROKER_URL": TEST_BROKER_URL,
            "BROKER_KEY_PREFIX": BROKER_KEY_PREFIX,
            "STRIPE_WEBHOOK_SECRETS": f"{WEBHOOK_SECRET},{SECOND_SECRET}",
            "API_TOKENS": f"tester:{API_TOKEN}:commands+read+ops",
            "LOG_FORMAT": "json",
            **FAST_TIMINGS,
        }
    )
    env.update(extra)
    return env
