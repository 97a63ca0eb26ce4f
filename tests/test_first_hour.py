"""The first hour of a new user (issue 13, section 3): each rough edge found by trying it.

Most tests run the real `billing` command in a subprocess, from a directory of their own and
with a HOME of their own, so nothing of the machine's or the suite's environment leaks in.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import structlog
import typer
from starlette.testclient import TestClient
from typer.testing import CliRunner

import ingest.app
from domain.data_dir import resolve_data_dir
from domain.plans import load_catalog
from domain.sample_account import SampleAccount
from domain.scenarios import SCENARIOS, SINGLE, scenario_events, single_event
from domain.settings import Settings, SettingsError, load_settings
from ingest.app import create_app
from tests.support.env import TEST_DATABASE_URL
from tests.support.processes import ROOT, Proc, free_port, wait_until
from workers.cli import _signing_secret, cli

BILLING = ROOT / ".venv" / "bin" / "billing"
CATALOG = load_catalog()
# Variables of the machine or of the suite that would change what a newcomer sees.
_LEAKS = (
    "DATABASE_URL",
    "BROKER_URL",
    "BROKER_KEY_PREFIX",
    "STRIPE_WEBHOOK_SECRETS",
    "STRIPE_WEBHOOK_SECRET",
    "API_TOKENS",
    "BILLING_DATA_DIR",
    "XDG_DATA_HOME",
    "LOG_LEVEL",
)


def newcomer_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKS}
    env.update(HOME=str(home), LOG_FORMAT="json", COLUMNS="200", **extra)
    return env


def billing(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    command = [str(BILLING)] if BILLING.exists() else [sys.executable, "-m", "workers.cli"]
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """A mistake ends in one line on stderr, non-zero, without a traceback."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(autouse=True)
def _in_process_logs() -> Iterator[None]:
    """In-process CLI runs must not point logging at CliRunner's streams (closed afterwards):
    with structlog already configured, the CLI leaves logging alone."""
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.stdlib.LoggerFactory())
    yield
    structlog.configure(**saved)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    path = tmp_path / "elsewhere"
    path.mkdir()
    return path


# --- the data directory: one rule ----------------------------------------------------------


def test_the_data_dir_rule(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "project"
    (cwd / "var").mkdir(parents=True)
    per_user = home / ".local" / "share" / "stripe-billing"
    assert resolve_data_dir({}, cwd, home) == per_user  # ./var without dev data: not it
    (cwd / "var" / "billing.db").touch()
    assert resolve_data_dir({}, cwd, home) == cwd / "var"
    assert resolve_data_dir({"BILLING_DATA_DIR": "/x"}, cwd, home) == Path("/x")
    assert resolve_data_dir({"XDG_DATA_HOME": "/d"}, tmp_path, home) == Path("/d/stripe-billing")


def test_ops_commands_elsewhere_say_there_is_no_database_and_create_none(
    home: Path, elsewhere: Path
) -> None:
    env = newcomer_env(home)
    for args in (["stats"], ["events", "list"], ["dead-letters", "list"], ["reconcile"]):
        line = one_line_error(billing(*args, cwd=elsewhere, env=env))
        assert "no database at" in line and "billing dev" in line and "DATABASE_URL" in line
    check = billing("check", "--json", cwd=elsewhere, env=newcomer_env(home, **_SECRET))
    assert check.returncode == 1
    results = {r["name"]: r for r in orjson.loads(check.stdout)}
    assert results["database"]["ok"] is False and "no database" in results["database"]["detail"]
    assert list(elsewhere.iterdir()) == []  # no ./var
    assert not (home / ".local").exists()  # and nothing in the per-user directory either


_SECRET = {"STRIPE_WEBHOOK_SECRETS": "whsec_first_hour_0123456789"}


# --- common mistakes: one line naming the variable -----------------------------------------


def test_serve_without_secrets_is_one_line(home: Path, elsewhere: Path) -> None:
    line = one_line_error(billing("serve", cwd=elsewhere, env=newcomer_env(home)))
    assert "STRIPE_WEBHOOK_SECRETS" in line


def test_unreachable_or_unmigrated_databases_are_one_line(
    home: Path, elsewhere: Path, tmp_path: Path
) -> None:
    dead = f"postgres://someone:hunter2@127.0.0.1:{free_port()}/app"
    line = one_line_error(
        billing("migrate", cwd=elsewhere, env=newcomer_env(home, DATABASE_URL=dead))
    )
    assert "DATABASE_URL" in line and "connection refused" in line and "hunter2" not in line
    empty = tmp_path / "empty.db"
    empty.touch()
    env = newcomer_env(home, DATABASE_URL=f"sqlite:///{empty}")
    line = one_line_error(billing("stats", cwd=elsewhere, env=env))
    assert "has no tables; run `billing migrate`" in line


def test_check_names_a_never_migrated_database_in_words(tmp_path: Path) -> None:
    from workers.checks import _database

    empty = tmp_path / "empty.db"
    empty.touch()
    result = _database(load_settings(database_url=f"sqlite:///{empty}"))
    assert not result.ok and "None" not in result.detail
    assert "none (never migrated)" in result.detail and result.hint == "run `billing migrate`"


def test_database_url_forms() -> None:
    for given in ("postgres://u@db.example:5432/app", "postgresql://u@db.example:5432/app"):
        url = load_settings(database_url=given).database_url
        assert url == "postgresql+psycopg://u@db.example:5432/app"
    with pytest.raises(SettingsError) as caught:
        load_settings(database_url="mysql://u:hunter2@db.example/app")
    message = str(caught.value)
    assert "\n" not in message and "DATABASE_URL" in message and "not supported" in message
    assert "hunter2" not in message


def test_mysql_url_is_one_line_without_the_password(home: Path, elsewhere: Path) -> None:
    env = newcomer_env(home, DATABASE_URL="mysql://u:hunter2@db.example/app", **_SECRET)
    line = one_line_error(billing("serve", cwd=elsewhere, env=env))
    assert "DATABASE_URL" in line and "hunter2" not in line


def test_postgres_scheme_is_accepted_end_to_end(home: Path, elsewhere: Path, db: object) -> None:
    heroku_form = TEST_DATABASE_URL.replace("postgresql+psycopg://", "postgres://")
    env = newcomer_env(home, DATABASE_URL=heroku_form, **_SECRET)
    result = billing("check", "--json", cwd=elsewhere, env=env)
    results = {r["name"]: r for r in orjson.loads(result.stdout)}
    assert results["database"]["ok"], results


# --- ports and databases that are not there ------------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def test_dev_on_a_port_in_use_fails_fast(home: Path, elsewhere: Path, busy_port: int) -> None:
    result = billing("dev", "--port", str(busy_port), cwd=elsewhere, env=newcomer_env(home))
    line = one_line_error(result)
    assert f"port {busy_port}" in line and "in use" in line
    assert "webhook secret" not in result.stdout + result.stderr  # no banner
    assert not (home / ".local").exists()


def test_serve_can_wait_for_the_database_and_names_its_host(home: Path, elsewhere: Path) -> None:
    dead = f"postgresql://someone:hunter2@127.0.0.1:{free_port()}/billing"
    env = newcomer_env(home, DATABASE_URL=dead, **_SECRET)
    result = billing(
        "serve", "--port", str(free_port()), "--wait-for-db", "1", cwd=elsewhere, env=env
    )
    line = one_line_error(result)
    assert "127.0.0.1" in line and "DATABASE_URL" in line and "connection refused" in line
    assert "hunter2" not in line and "someone" not in line


def test_serve_warns_at_start_up_and_readyz_says_why(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The app's own logger, rendered as in production: stderr capture would depend on which
    # test configured (and cached) structlog first.
    captured = structlog.testing.CapturingLogger()
    rendered = structlog.wrap_logger(captured, processors=[structlog.processors.JSONRenderer()])
    monkeypatch.setattr(ingest.app, "log", rendered)
    port = free_port()
    cfg = settings.model_copy(
        update={"database_url": f"postgresql+psycopg://someone:hunter2@127.0.0.1:{port}/x"}
    )
    with TestClient(create_app(cfg, publish=lambda ids: None)) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert (
        ready.json()["checks"]["database"] == "unavailable: OperationalError (connection refused)"
    )
    warning = [c.args[0] for c in captured.calls if "database.unreachable_at_startup" in c.args[0]]
    assert len(warning) == 1, captured.calls
    assert f"127.0.0.1:{port}" in warning[0] and "hunter2" not in warning[0]


# --- the CLI reads well ---------------------------------------------------------------------


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command path (typer 0.29 carries its own click: duck-typed, not isinstance)."""
    yield path
    if hasattr(group, "commands"):
        for name, sub in group.commands.items():
            yield from _commands(sub, (*path, name))


def test_help_shows_flags_as_flags_for_every_command() -> None:
    root = typer.main.get_command(cli)
    runner = CliRunner()
    seen = 0
    for path in _commands(root):
        result = runner.invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "<bool>" not in result.output and "BOOLEAN" not in result.output, path
        seen += 1
    assert seen > 20
    assert "--json" in runner.invoke(cli, ["check", "--help"]).output


def test_version(home: Path, elsewhere: Path) -> None:
    result = billing("--version", cwd=elsewhere, env=newcomer_env(home))
    assert result.returncode == 0 and result.stdout.startswith("billing 0."), result.stdout


def test_send_event_secret_plural_first_then_singular(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import SecretStr

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_singular")
    plural = [SecretStr("whsec_first"), SecretStr("whsec_second")]
    assert _signing_secret(None, plural, None) == "whsec_first"
    assert _signing_secret(None, [], None) == "whsec_singular"
    assert _signing_secret("whsec_given", plural, None) == "whsec_given"


def test_worker_loglevel_applies_to_our_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    from workers.celery_app import app as celery

    seen: dict[str, object] = {}
    monkeypatch.setattr(
        celery, "worker_main", lambda argv: seen.update(argv=argv, env=os.environ["LOG_LEVEL"])
    )
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    result = CliRunner().invoke(cli, ["worker", "--loglevel", "warning"])
    assert result.exit_code == 0, result.output
    assert seen["env"] == "WARNING"  # read by the worker's settings: structlog's level too
    assert "--loglevel=warning" in seen["argv"]  # type: ignore[operator]


# --- send-event: linked objects, like `stripe trigger` ---------------------------------------


def test_scenario_objects_link_to_the_account() -> None:
    plan = CATALOG.find("pro", "month")
    assert plan is not None
    acct = SampleAccount("org_42", plan, 1_800_000_000)
    events = scenario_events("checkout-to-cancel", acct)
    types = [e["type"] for e in events]
    assert types[0] == "checkout.session.completed" and types[-1] == "customer.subscription.deleted"
    assert types.index("customer.created") < types.index("invoice.paid")
    assert [e["created"] for e in events] == sorted({e["created"] for e in events})
    by_type = {e["type"]: e["data"]["object"] for e in events}
    assert by_type["customer.created"]["metadata"] == {"account_ref": "org_42"}
    assert by_type["checkout.session.completed"]["customer"] == acct.customer_id
    assert by_type["checkout.session.completed"]["client_reference_id"] == "org_42"
    sub = by_type["customer.subscription.created"]
    assert sub["customer"] == acct.customer_id
    assert sub["items"]["data"][0]["price"]["id"] == plan.price_id
    paid = by_type["invoice.paid"]
    assert paid["status"] == "paid" and paid["amount_paid"] == plan.amount
    assert paid["parent"]["subscription_details"]["subscription"] == sub["id"]
    # A single event for the same account reuses its ids.
    again = single_event("invoice.paid", SampleAccount("org_42", plan, 1_800_000_100))
    assert again["data"]["object"]["id"] == paid["id"]
    other = single_event("invoice.paid", SampleAccount("org_43", plan, 1_800_000_100))
    assert other["data"]["object"]["customer"] != acct.customer_id


def test_send_event_lists_what_it_can_send(home: Path, elsewhere: Path) -> None:
    result = billing("send-event", "--list", cwd=elsewhere, env=newcomer_env(home))
    assert result.returncode == 0, result.stderr
    for name in [*SCENARIOS, *SINGLE]:
        assert name in result.stdout


# --- billing dev end to end: the README demo, a tool beside it, kill -9 ---------------------


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_the_readme_demo_from_another_directory_then_kill_9(
    tmp_path: Path, home: Path, elsewhere: Path
) -> None:
    port = free_port()
    project = tmp_path / "project"
    project.mkdir()
    command = [str(BILLING)] if BILLING.exists() else [sys.executable, "-m", "workers.cli"]
    dev = Proc([*command, "dev", "--port", str(port)], newcomer_env(home), tmp_path / "dev.log")
    try:
        assert wait_until(lambda: _ready(port), 60), dev.output()[-4000:]
        env = newcomer_env(home)
        url = f"http://127.0.0.1:{port}/webhooks/stripe"
        sent = billing(
            "send-event", "checkout-to-cancel", "--account", "org_42", "--url", url,
            cwd=elsewhere, env=env,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stdout + sent.stderr
        ids = [line.split()[0] for line in sent.stdout.splitlines()]
        assert len(ids) == len(SCENARIOS["checkout-to-cancel"][1])
        assert all(i.startswith("evt_") for i in ids)
        token = orjson.loads((home / ".local/share/stripe-billing/dev-secrets.json").read_bytes())[
            "api_token"
        ]

        def account() -> dict[str, Any]:
            answer = httpx.get(
                f"http://127.0.0.1:{port}/v1/accounts/org_42",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )
            body: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
            return body

        assert wait_until(
            lambda: (account().get("billing") or {}).get("status") == "canceled",
            60,
        ), dev.output()[-4000:]
        billing_state = account()["billing"]
        assert billing_state["plan_tier"] == "pro" and billing_state["plan_interval"] == "month"
        # A tool beside it, from another directory: same data, dev's secret, clean stdout.
        check = billing("check", cwd=elsewhere, env=env)
        assert check.returncode == 0, check.stdout + check.stderr
        page = billing("events", "list", "--limit", "2", cwd=elsewhere, env=env)
        assert page.returncode == 0, page.stderr
        assert "{" not in page.stdout  # no log lines in the table
        assert "next: billing events list --after evt_" in page.stderr
        older = billing("events", "list", "--after", ids[-2], "--json", cwd=elsewhere, env=env)
        assert {r["event_id"] for r in orjson.loads(older.stdout)} == set(ids[:-2])
        stats = billing("stats", cwd=elsewhere, env=env)
        assert "oldest unprocessed event: none" in stats.stdout, stats.stdout
        for tool in (check, page, older, stats):  # tools log warnings and errors only
            assert '"level":"info"' not in tool.stderr.replace(" ", ""), tool.stderr
        assert list(elsewhere.iterdir()) == []
        # kill -9: the worker and the sweeper go with it.
        pid = dev.popen.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        assert len(children) == 2, children
        os.kill(pid, signal.SIGKILL)
        dev.popen.wait(10)
        assert wait_until(lambda: not any(Path(f"/proc/{c}").exists() for c in children), 30), (
            dev.output()[-4000:]
        )
    finally:
        dev.stop()
