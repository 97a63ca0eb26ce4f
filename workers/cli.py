"""The `billing` command line: run the service, migrate, check, and send sample events."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from domain.settings import SettingsError, load_settings
from workers.ops_cli import register_ops

cli = typer.Typer(
    help="Stripe billing backbone: webhook ingest, workers, sweeper and ops tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()


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
) -> None:
    """Serve the HTTP API (webhooks, health) with uvicorn."""
    import uvicorn

    from ingest.server import uvicorn_options

    load_settings()  # fail fast with a clear message before uvicorn starts
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
    concurrency: Annotated[int, typer.Option(help="Worker processes (or threads).")] = 4,
    queues: Annotated[str, typer.Option(help="Comma-separated queues.")] = (
        "events,commands,maintenance"
    ),
    pool: Annotated[str, typer.Option(help="Celery pool (prefork, solo, threads).")] = "prefork",
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
) -> None:
    """Run a Celery worker that processes events and commands."""
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
    data_dir: Annotated[Path, typer.Option(help="Where the SQLite files live.")] = Path("var"),
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run everything on the embedded default: SQLite database and broker, no servers needed."""
    import uvicorn

    from ingest.server import uvicorn_options
    from workers.dev import DEV_SCOPES, embedded_environment, spawn, stop_all

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
    console.print(
        f"  try             billing send-event invoice.paid --url {url}/webhooks/stripe"
        f" --data-dir {data_dir}\n"
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


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


@cli.command("send-event")
def send_event(
    what: Annotated[str, typer.Argument(help="An event type (e.g. invoice.paid) or a JSON file.")],
    url: Annotated[str, typer.Option(help="Webhook endpoint.")] = (
        "http://127.0.0.1:8000/webhooks/stripe"
    ),
    secret: Annotated[
        str | None,
        typer.Option(
            help="Signing secret; default: first of STRIPE_WEBHOOK_SECRETS, else the dev secret.",
            envvar="STRIPE_WEBHOOK_SECRET",
        ),
    ] = None,
    data_dir: Annotated[Path, typer.Option(help="Data directory of `billing dev`.")] = Path("var"),
) -> None:
    """Build a realistic event (like `stripe trigger`), sign it and post it."""
    import httpx
    import orjson

    from domain.samples import build_event
    from ingest.signature import sign_header
    from workers.dev import dev_secrets

    path = Path(what)
    if path.suffix == ".json" or path.exists():
        if not path.exists():
            raise typer.BadParameter(f"file not found: {path}", param_hint="WHAT")
        body = path.read_bytes()
    else:
        try:
            body = orjson.dumps(build_event(what))
        except KeyError as exc:
            raise typer.BadParameter(str(exc.args[0]), param_hint="WHAT") from None
    if secret is None:
        configured = load_settings().stripe_webhook_secrets
        secret = (
            configured[0].get_secret_value()
            if configured
            else dev_secrets(data_dir)["webhook_secret"]
        )
    headers = {
        "Stripe-Signature": sign_header(secret.encode(), body),
        "Content-Type": "application/json",
    }
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        console.print(f"[red]could not reach {url}: {exc}[/red]")
        raise typer.Exit(1) from None
    out.print(f"{response.status_code} {response.text}")
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
    """Console-script entry point: settings errors become a clear message and exit 2."""
    try:
        cli()
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        sys.exit(2)


if __name__ == "__main__":
    main()
