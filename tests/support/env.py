"""Where the test services are, and the settings every test process shares."""

from __future__ import annotations

import os

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://127.0.0.1/test")
TEST_BROKER_URL = os.environ.get("TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
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
}


def service_env(**extra: str) -> dict[str, str]:
    """Environment for a child process (uvicorn, celery, sweeper) under test."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": TEST_DATABASE_URL,
            "BROKER_URL": TEST_BROKER_URL,
            "STRIPE_WEBHOOK_SECRETS": f"{WEBHOOK_SECRET},{SECOND_SECRET}",
            "API_TOKENS": f"tester:{API_TOKEN}:commands+read+ops",
            "LOG_FORMAT": "json",
            **FAST_TIMINGS,
        }
    )
    env.update(extra)
    return env
