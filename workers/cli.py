"""The `billing` command line: run the service, migrate, check, and send sample events."""

from __future__ import annotations

import os
import signal
import sys
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any

import structlog
import typer
from rich.console import Console
from rich.table import Table

from domain.data_dir import resolve_data_dir
from domain.settings import load_settings, require_webhook_secrets
from workers.cli_errors import CliError, explain
from workers.ops_cli import register_ops

# rich_markup_mode=None: click's plain help, where a flag reads `--json`, not `--json <bool>`
# (typer's rich help shows a type for every option, flags included).
cli = typer.Typer(
    help="Stripe billing backbone: webhook ingest, workers, sweeper and ops tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console(stderr=True)
out = Console()
# Commands that run a service: they log at LOG_LEVEL and do not borrow `billing dev`'s secrets.
SERVICES = frozenset({"serve", "worker", "sweeper", "dev"})


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"billing {package_version('stripe-billing-backbone')}")
        raise typer.Exit()


@cli.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Stripe billing backbone: webhook ingest, workers, sweeper and ops tools."""
    from domain.logs import configure_logging
    from workers.dev import dev_defaults

    command = ctx.invoked_subcommand or ""
    if command in SERVICES:
        return
    # A tool beside `billing dev`: its data directory (the same rule), its secret and token.
    data_dir = resolve_data_dir(os.environ, Path.cwd(), Path.home())
    for name, value in dev_defaults(os.environ, data_dir).items():
        os.environ.setdefault(name, value)
    # Tables and JSON go to stdout; only warnings and errors are logged (to stderr) meanwhile.
    # (Unless logging is set up already: an embedding program or a test owns it then.)
    if not structlog.is_configured():
        log_format = os.environ.get("LOG_FORMAT", "auto").lower()
        configure_logging(log_format if log_format in {"json", "console"} else "auto", "WARNING")


@cli.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Upgrade the database schema (DATABASE_URL) to the latest revision."""
    from alembic import command

    from migrations import alembic_config

    settings = load_settings()
    command.upgrade(alembic_config(settings.effective_database_url), revision)
    console.print(f"[green]database migrated to {revision}[/green]")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port to listen on.", envvar="PORT")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
    wait_for_db: Annotated[
        float | None,
        typer.Option(
            metavar="SECONDS",
            help="Wait up to SECONDS for the database to answer, else exit 1 (default: start "
            "anyway, warn, and answer 503 on /readyz until it does).",
        ),
    ] = None,
) -> None:
    """Serve the HTTP API (webhooks, health) with uvicorn."""
    import uvicorn

    from ingest.server import uvicorn_options
    from workers.dev import port_in_use

    # Fail fast with one clear line before uvicorn starts.
    require_webhook_secrets(load_settings())
    if port_in_use(host, port):
        raise CliError(f"port {port} on {host} is in use; stop what listens there or pass --port")
    if wait_for_db is not None:
        _wait_for_database(wait_for_db)
    uvicorn.run(
        "ingest.app:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        **uvicorn_options(),
    )


@cli.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            help="Worker processes (or threads); default: one per CPU core this process may "
            "run on (measured best on 2 cores: docs/performance.md)."
        ),
    ] = None,
    queues: Annotated[str, typer.Option(help="Comma-separated queues.")] = (
        "events,commands,maintenance"
    ),
    pool: Annotated[str, typer.Option(help="Celery pool (prefork, solo, threads).")] = "prefork",
    loglevel: Annotated[
        str | None, typer.Option(help="Log level of Celery and of our lines (default LOG_LEVEL).")
    ] = None,
) -> None:
    """Run a Celery worker that processes events and commands."""
    if loglevel is not None:
        # Our per-task lines follow the same level as Celery's (read by the worker's settings).
        os.environ["LOG_LEVEL"] = loglevel.upper()
    loglevel = loglevel or load_settings().log_level
    concurrency = concurrency or default_concurrency()
    from workers.celery_app import app as celery

    celery.worker_main(
        [
            "worker",
            f"--concurrency={concurrency}",
            f"--queues={queues}",
            f"--pool={pool}",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


def default_concurrency() -> int:
    """One worker process per CPU core available to this process (its affinity mask)."""
    return max(1, len(os.sched_getaffinity(0)))


@cli.command()
def sweeper(
    once: Annotated[bool, typer.Option("--once", help="Run one pass and exit.")] = False,
) -> None:
    """Re-publish lost events, expire dead leases and hand out due retries, in a loop."""
    from workers.celery_app import app as celery
    from workers.runtime import get_runtime
    from workers.sweeper import run_forever, sweep_once

    runtime = get_runtime()
    if once:
        result = sweep_once(runtime, celery)
        out.print(
            f"republished {len(result.republish)}, leases expired {result.expired}, "
            f"dead {result.dead}"
        )
        return
    run_forever(runtime, celery)


@cli.command()
def dev(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where the SQLite files live (default: BILLING_DATA_DIR, else ./var if it "
            "holds a dev database, else ~/.local/share/stripe-billing)."
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run everything on the embedded default: SQLite database and broker, no servers needed."""
    import uvicorn

    from ingest.server import uvicorn_options
    from workers.dev import DEV_SCOPES, embedded_environment, port_in_use, spawn, stop_all

    if port_in_use(host, port):
        raise CliError(f"port {port} on {host} is in use; stop what listens there or pass --port")
    if data_dir is None:
        data_dir = resolve_data_dir(os.environ, Path.cwd(), Path.home())

    if os.environ.get("DATABASE_URL") or os.environ.get("BROKER_URL"):
        console.print(
            "[yellow]billing dev ignores DATABASE_URL/BROKER_URL: it runs on "
            "SQLite under the data directory[/yellow]"
        )
    env, generated = embedded_environment(data_dir)
    os.environ.clear()
    os.environ.update(env)
    migrate()
    url = f"http://{host}:{port}"
    secret_note = (
        "(from STRIPE_WEBHOOK_SECRETS)"
        if env["STRIPE_WEBHOOK_SECRETS"] != generated["webhook_secret"]
        else env["STRIPE_WEBHOOK_SECRETS"]
    )
    console.print(f"\n[bold]billing dev[/bold] on {url}  (data in {env['BILLING_DATA_DIR']})")
    console.print(f"  webhook URL     {url}/webhooks/stripe")
    console.print(f"  webhook secret  {secret_note}")
    console.print(f"  API token       {generated['api_token']}  (scopes {DEV_SCOPES})")
    console.print(f"  ops console     {url}/ops  (sign in with the API token)")
    # The rule finds this directory from anywhere unless it was named: then say so.
    found = resolve_data_dir(
        {k: v for k, v in env.items() if k != "BILLING_DATA_DIR"}, Path.cwd(), Path.home()
    )
    prefix = "" if found.resolve() == data_dir.resolve() else f"BILLING_DATA_DIR={data_dir} "
    console.print(
        f"  try             {prefix}billing send-event checkout-to-cancel --account org_42"
        f" --url {url}/webhooks/stripe\n"
    )
    children = [
        spawn(env, "worker", "--concurrency=1", "--loglevel=WARNING"),
        spawn(env, "sweeper"),
    ]
    # uvicorn re-raises the SIGTERM it handled once it has shut down; as an exception (not
    # the default handler, which ends the process at once) it lets `finally` stop the children.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        uvicorn.run("ingest.app:app", host=host, port=port, **uvicorn_options())
    except SystemExit:
        pass
    finally:
        stop_all(children)


def _wait_for_database(seconds: float) -> None:
    """Block until the database answers SELECT 1, or fail after `seconds` naming the host."""
    import time

    from sqlalchemy import text

    from domain.db import database_error_reason, database_location, make_engine

    settings = load_settings()
    url = settings.effective_database_url
    engine = make_engine(url, pool_size=1, transaction_pooler=settings.behind_transaction_pooler)
    deadline = time.monotonic() + seconds
    try:
        while True:
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                return
            except Exception as exc:
                if time.monotonic() >= deadline:
                    raise CliError(
                        f"the database at {database_location(url)} (DATABASE_URL) did not answer "
                        f"within {seconds:g}s: {database_error_reason(exc)}"
                    ) from None
                time.sleep(0.5)
    finally:
        engine.dispose()


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


@cli.command("send-event")
def send_event(
    what: Annotated[
        str | None,
        typer.Argument(help="A scenario (checkout-to-cancel, ...), an event type or a JSON file."),
    ] = None,
    account: Annotated[
        str, typer.Option(help="The product's account_ref the objects belong to.")
    ] = "org_42",
    plan: Annotated[str, typer.Option(help="The subscription's plan: tier/interval.")] = (
        "pro/month"
    ),
    list_: Annotated[
        bool, typer.Option("--list", help="List the scenarios and event types, then exit.")
    ] = False,
    url: Annotated[str, typer.Option(help="Webhook endpoint.")] = (
        "http://127.0.0.1:8000/webhooks/stripe"
    ),
    secret: Annotated[
        str | None,
        typer.Option(
            help="Signing secret; default: the first of STRIPE_WEBHOOK_SECRETS (billing dev's "
            "when beside it), else STRIPE_WEBHOOK_SECRET."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Data directory of `billing dev` (for its secret).")
    ] = None,
) -> None:
    """Send signed, linked events like `stripe trigger`: one type, a scenario, or a file."""
    import time

    import orjson

    from domain.plans import catalog_for
    from domain.sample_account import SampleAccount
    from domain.scenarios import SCENARIOS, SINGLE, scenario_events, single_event

    if list_:
        typer.echo("scenarios (billing send-event NAME --account REF):")
        for name, (description, steps) in SCENARIOS.items():
            typer.echo(f"  {name:20} {description}")
            typer.echo(f"  {'':20} {' -> '.join(step.event_type for step in steps)}")
        typer.echo("event types with the account's own objects:")
        for event_type in SINGLE:
            typer.echo(f"  {event_type}")
        typer.echo("any other type: Stripe's example object, with the account's customer")
        return
    if what is None:
        raise typer.BadParameter("give a scenario, an event type or a JSON file (or --list)")
    settings = load_settings()
    tier, _, interval = plan.partition("/")
    chosen = catalog_for(settings.plan_catalog).find(tier, interval or "month")
    if chosen is None:
        raise typer.BadParameter(f"no plan {plan!r} in the plan catalog", param_hint="--plan")
    acct = SampleAccount(account, chosen, int(time.time()))
    path = Path(what)
    if path.suffix == ".json" or path.exists():
        if not path.exists():
            raise typer.BadParameter(f"file not found: {path}", param_hint="WHAT")
        bodies = [path.read_bytes()]
    elif what in SCENARIOS:
        bodies = [orjson.dumps(event) for event in scenario_events(what, acct)]
    else:
        try:
            bodies = [orjson.dumps(single_event(what, acct))]
        except KeyError as exc:
            raise typer.BadParameter(str(exc.args[0]), param_hint="WHAT") from None
    signing = _signing_secret(secret, settings.stripe_webhook_secrets, data_dir)
    for body in bodies:
        _post_event(url, signing, body)


def _signing_secret(given: str | None, configured: list[Any], data_dir: Path | None) -> str:
    """--secret, else the first of STRIPE_WEBHOOK_SECRETS, else STRIPE_WEBHOOK_SECRET."""
    from workers.dev import read_dev_secrets

    if given:
        return given
    if data_dir is not None:
        generated = read_dev_secrets(data_dir)
        if generated is None:
            raise CliError(f"no dev-secrets.json in {data_dir}; run `billing dev` there first")
        return generated["webhook_secret"]
    if configured:
        return str(configured[0].get_secret_value())
    singular = os.environ.get("STRIPE_WEBHOOK_SECRET", "").strip()
    if singular:
        return singular
    raise CliError(
        "STRIPE_WEBHOOK_SECRETS: not set and no `billing dev` data found; pass --secret, "
        "set STRIPE_WEBHOOK_SECRETS or run `billing dev`"
    )


def _post_event(url: str, secret: str, body: bytes) -> None:
    """Sign and post one event; print `<event id> <type>: <status> <answer>`."""
    import httpx
    import orjson

    from ingest.signature import sign_header

    try:
        event = orjson.loads(body)
        label = f"{event.get('id')} {event.get('type')}"
    except (orjson.JSONDecodeError, AttributeError):
        label = "(not an event)"
    headers = {
        "Stripe-Signature": sign_header(secret.encode(), body),
        "Content-Type": "application/json",
    }
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise CliError(
            f"could not reach {url}: {type(exc).__name__}; is the service running?"
        ) from None
    # Plain echo, not rich: a line per event that scripts can split, never wrapped.
    typer.echo(f"{label}: {response.status_code} {response.text}")
    if response.status_code >= 300:
        raise typer.Exit(1)


@cli.command()
def check(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Report on settings, database, migrations and broker, with hints for what fails."""
    import orjson

    from workers.checks import run_checks

    results = run_checks()
    if as_json:
        out.print_json(orjson.dumps([r.__dict__ for r in results]).decode())
    else:
        table = Table("check", "status", "detail", "hint")
        for r in results:
            table.add_row(
                r.name, "[green]OK[/green]" if r.ok else "[red]FAIL[/red]", r.detail, r.hint
            )
        out.print(table)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


register_ops(cli)


def main() -> None:
    """Console-script entry point: a mistake the user can fix is one line, not a traceback.

    Settings errors exit 2, other known mistakes (no database, port in use, database
    unreachable or not migrated) exit 1; anything else is a bug and keeps its traceback.
    """
    try:
        cli()
    except Exception as exc:
        url: str | None
        try:
            url = load_settings().effective_database_url
        except Exception:
            url = None
        known = explain(exc, url)
        if known is None:
            raise
        typer.secho(str(known), fg="red", err=True)
        sys.exit(known.code)


if __name__ == "__main__":
    main()
