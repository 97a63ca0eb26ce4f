"""This test run's own Postgres database: created at the start, dropped at the end.

Databases left by runs that were killed are dropped too, once their process is gone.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tests.support.env import RUN_DATABASE_PREFIX, SERVER_DATABASE_URL, TEST_DATABASE_URL
from tests.support.processes import pid_alive

_RUN_NAME = re.compile(r"_r(\d+)_[0-9a-f]+(?:_.*)?$")


def _admin() -> Engine:
    url = make_url(SERVER_DATABASE_URL).set(database="postgres")
    return create_engine(url, isolation_level="AUTOCOMMIT")


def create_run_database() -> None:
    """Drop the databases of dead runs, then create this run's (empty)."""
    name = make_url(TEST_DATABASE_URL).database
    admin = _admin()
    try:
        with admin.connect() as conn:
            existing = conn.execute(
                text("SELECT datname FROM pg_database WHERE starts_with(datname, :p)"),
                {"p": RUN_DATABASE_PREFIX},
            ).scalars()
            for other in list(existing):
                match = _RUN_NAME.search(other)
                if match and not pid_alive(int(match.group(1))):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)'))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()


def drop_run_database() -> None:
    """Drop this run's database (its connections are closed first)."""
    name = make_url(TEST_DATABASE_URL).database
    admin = _admin()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
