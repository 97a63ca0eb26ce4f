"""bench/common.py BenchNamespace: each bench run has a database and broker keys of its own.

Real Postgres (the test server) and the shared test Redis: a run's database is created and
dropped, its keys are deleted, and nothing else is touched.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.common import BenchNamespace, bench_environment
from domain.settings import load_settings
from tests.support.env import BROKER_KEY_PREFIX, SERVER_DATABASE_URL, TEST_BROKER_URL
from tests.support.processes import ROOT
from workers.celery_app import make_celery
from workers.enqueue import publish_event_batch

RUN_NAME = re.compile(rf"^bench_{os.getpid()}_[0-9a-f]{{6}}$")


def databases() -> set[str]:
    admin = create_engine(make_url(SERVER_DATABASE_URL).set(database="postgres"))
    try:
        with admin.connect() as conn:
            return set(conn.execute(text("SELECT datname FROM pg_database")).scalars())
    finally:
        admin.dispose()


def admin_execute(sql: str) -> None:
    admin = create_engine(
        make_url(SERVER_DATABASE_URL).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(sql))
    finally:
        admin.dispose()


def namespace(database_url: str | None = None) -> BenchNamespace:
    return BenchNamespace(database_url, TEST_BROKER_URL, server_url=SERVER_DATABASE_URL)


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A database made by the test (not by a namespace), dropped at the end."""
    name = f"benchns_given_{secrets.token_hex(3)}"
    admin_execute(f'CREATE DATABASE "{name}"')
    yield make_url(SERVER_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_two_namespaces_differ() -> None:
    a, b = namespace(), namespace()
    assert RUN_NAME.match(a.name) and RUN_NAME.match(b.name)
    assert a.name != b.name
    assert a.database == a.name and b.database == b.name
    assert a.database_url != b.database_url
    assert a.broker_key_prefix == f"{a.name}:" and b.broker_key_prefix == f"{b.name}:"
    assert a.env() == {
        "DATABASE_URL": a.database_url,
        "BROKER_URL": TEST_BROKER_URL,
        "BROKER_KEY_PREFIX": a.broker_key_prefix,
    }
    assert a.name in a.describe() and a.broker_key_prefix in a.describe()


def test_the_runs_database_is_created_migrated_and_dropped_at_exit() -> None:
    ns = namespace()
    assert ns.database not in databases()
    with ns:
        assert ns.database in databases()
        env = bench_environment(ns, "WARNING")  # what every service child process gets
        assert env["DATABASE_URL"] == ns.database_url
        assert env["BROKER_URL"] == TEST_BROKER_URL
        assert env["BROKER_KEY_PREFIX"] == ns.broker_key_prefix
        engine = create_engine(ns.database_url)
        conn = engine.connect()  # still open at exit: the drop closes it
        assert conn.execute(text("SELECT count(*) FROM stripe_events")).scalar_one() == 0
    assert ns.database not in databases()
    conn.invalidate()
    engine.dispose()


def test_the_runs_database_is_dropped_when_the_bench_fails() -> None:
    ns = namespace()
    with pytest.raises(RuntimeError), ns:
        assert ns.database in databases()
        raise RuntimeError("bench failed")
    assert ns.database not in databases()


def test_a_given_database_is_used_and_kept(scratch_database: str) -> None:
    ns = namespace(scratch_database)
    given = make_url(scratch_database).database
    with ns:
        assert ns.database_url == scratch_database
        assert "not dropped" in ns.describe()
    assert given in databases()


def test_databases_of_killed_runs_are_dropped_others_kept() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = f"bench_{gone.pid}_abcdef"  # its process is gone: a killed run's
    alive = f"bench_{os.getpid()}_fedcba"  # a live process's
    other = f"bench_scratch_{secrets.token_hex(3)}"  # not a run's name (e.g. `bench`)
    for name in (dead, alive, other):
        admin_execute(f'CREATE DATABASE "{name}"')
    try:
        with namespace() as ns:
            names = databases()
            assert ns.database in names
            assert dead not in names
            assert alive in names and other in names
    finally:
        for name in (dead, alive, other):
            admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_exit_deletes_only_the_runs_own_broker_keys(broker: redis.Redis) -> None:
    ns = namespace()
    # Keys of someone else in the same Redis database: another run's queue, a key spelled
    # like ours without the separator, a bare key. (Under this test run's own prefix or
    # deleted below, so nothing is left in the shared database.)
    foreign = [f"{BROKER_KEY_PREFIX}events", f"{BROKER_KEY_PREFIX}{ns.name}", ns.name]
    for key in foreign:
        broker.set(key, "someone else's")
    try:
        with ns:
            app = make_celery(
                load_settings(broker_url=TEST_BROKER_URL, broker_key_prefix=ns.broker_key_prefix)
            )
            publish_event_batch(app, ["evt_bench_namespace"])
            broker.set(f"{ns.broker_key_prefix}bench_reference", "x")
            assert broker.llen(f"{ns.broker_key_prefix}events") == 1
        assert list(broker.scan_iter(match=f"{ns.broker_key_prefix}*")) == []
        for key in foreign:
            assert broker.get(key) == b"someone else's", key
    finally:
        broker.delete(ns.name)


# A bench that imports nothing but bench.common: its cleanup at exit must work from there.
CHILD = """
import argparse, time
from bench.common import namespace_arguments, open_namespace
parser = argparse.ArgumentParser()
namespace_arguments(parser)
open_namespace(parser.parse_args([]))
time.sleep(60)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_bench_stopped_by_a_signal_cleans_up(
    signum: signal.Signals, broker: redis.Redis, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "BENCH_DATABASE_URL"}
    env |= {"BENCH_SERVER_URL": SERVER_DATABASE_URL, "BENCH_BROKER_URL": TEST_BROKER_URL}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline()  # the namespace, on the first line of output
        match = re.match(r"bench namespace (bench_\d+_[0-9a-f]{6}): ", first)
        assert match, first
        name = match.group(1)
        assert name in databases()
        broker.set(f"{name}:k", "1")  # a key of the run's
        child.send_signal(signum)
        _, stderr = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert "atexit callback" not in stderr, stderr
    assert name not in databases()
    assert broker.get(f"{name}:k") is None


def test_no_bench_script_flushes_redis_or_hard_codes_a_database() -> None:
    for script in sorted((ROOT / "bench").glob("*.py")):
        source = script.read_text()
        assert "flushdb" not in source.lower(), script.name
        assert not re.search(r"postgresql\+psycopg://[^\"']*/bench", source), script.name
        if script.name != "common.py":  # the default Redis database, shared under prefixes
            assert not re.search(r"6379/1[0-9]", source), script.name
            assert '"--database-url"' not in source, f"{script.name}: use namespace_arguments"
