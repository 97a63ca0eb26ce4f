"""The Starlette application (`ingest.app:app`) and its lifespan-owned resources."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator, Callable, Sequence

import structlog
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from domain.db import database_error_reason, database_location, make_engine
from domain.logs import configure_logging
from domain.plans import catalog_for
from domain.settings import Settings, load_settings, require_webhook_secrets
from ingest.commands_api import create_command, get_command
from ingest.console import CONSOLE_ROUTES
from ingest.credits_api import CREDITS_ROUTES
from ingest.edge import EdgeApp
from ingest.errors import EdgeErrorsMiddleware, http_exception
from ingest.gate import GroupCommitGate
from ingest.gate_pg import PipelinedGate
from ingest.health import BrokerProbe, Readiness, database_check, healthz, readyz
from ingest.metrics import database_gauges, metrics
from ingest.openapi_cache import RenderedDocument, openapi_json
from ingest.ops_api import OPS_ROUTES
from ingest.ops_backfill_api import BACKFILL_ROUTES
from ingest.ops_commands_api import COMMAND_OPS_ROUTES
from ingest.ops_reconcile_api import RECONCILE_ROUTES
from ingest.ops_usage_api import USAGE_OPS_ROUTES
from ingest.plans_api import list_plans
from ingest.publisher import BatchPublisher
from ingest.read_account import PgAccountReader
from ingest.read_api import PLAN, READ_ROUTES
from ingest.read_pool import ReadPool
from ingest.webhooks import WEBHOOK_PATH, stripe_webhook
from ingest.writer import GroupCommitWriter

PublishFn = Callable[[Sequence[str]], None]
log = structlog.get_logger("ingest.app")


def _celery_publisher(settings: Settings) -> tuple[PublishFn, BrokerProbe, PublishFn]:
    # Imported here so the edge depends only on the app config and the enqueue functions.
    from workers.celery_app import make_celery
    from workers.enqueue import publish_commands, publish_event_batch

    celery = make_celery(settings)

    def publish_command_ids(ids: Sequence[str]) -> None:
        try:
            publish_commands(celery, ids)
        except Exception:  # broker down: the row is committed and the sweeper publishes it
            log.warning("commands.publish_failed", count=len(ids))

    def publish(ids: Sequence[str]) -> None:
        publish_event_batch(celery, ids)

    probe = BrokerProbe(celery.connection_for_write, settings.broker_timeout_seconds)
    return publish, probe, publish_command_ids


async def _warn_if_database_unreachable(engine: Engine, cfg: Settings) -> None:
    """Start anyway (the database may come up later) but say so loudly, once, at start-up.

    The line names the database host (never the user or password); /readyz answers 503
    with the reason until the database answers.
    """
    import asyncio

    try:
        await asyncio.wait_for(
            asyncio.to_thread(database_check(engine)), cfg.readiness_timeout_seconds
        )
    except Exception as exc:
        reason = "timeout" if isinstance(exc, TimeoutError) else database_error_reason(exc)
        log.warning(
            "database.unreachable_at_startup",
            database=database_location(cfg.effective_database_url),
            reason=reason,
            hint="check DATABASE_URL and the server; /readyz answers 503 until it answers",
        )


def create_app(settings: Settings | None = None, publish: PublishFn | None = None) -> Starlette:
    """Build the app; settings come from the environment unless given."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        cfg = settings or load_settings()
        configure_logging(cfg.log_format, cfg.log_level)
        require_webhook_secrets(cfg)
        # Requests (reads, commands, ops, readiness, metrics) ping a pooled connection before
        # use: after a Postgres restart or failover they reconnect instead of failing. The
        # group-commit writer has its own pool without the ping (a round trip per batch,
        # ~60 us of CPU: bench/edge_costs.py); it retries a batch once on a dropped
        # connection instead. SQLite has no server to lose: one engine.
        engine = make_engine(
            cfg.effective_database_url,
            pool_size=4,
            pre_ping=True,
            transaction_pooler=cfg.behind_transaction_pooler,
        )
        writer_threads = 1 if cfg.is_sqlite else 2
        ingest_engine = (
            engine
            if cfg.is_sqlite
            else make_engine(
                cfg.effective_database_url,
                pool_size=writer_threads,
                pre_ping=False,
                transaction_pooler=cfg.behind_transaction_pooler,
            )
        )
        publish_fn, broker_probe, publish_command_ids = _celery_publisher(cfg)
        publisher = BatchPublisher(
            engine,
            publish or publish_fn,
            batch_size=cfg.publish_batch_size,
            linger_seconds=cfg.publish_linger_ms / 1000,
        )
        writer = GroupCommitWriter(
            ingest_engine, threads=writer_threads, on_commit=publisher.submit
        )
        # The credit gate commits concurrent consumes together: on Postgres in a task of the
        # event loop with its own hot connection (ingest/gate_pg.py), on SQLite in a thread
        # (ingest/gate.py). While a batch commits, the next one queues up (Postgres: and
        # starts on the gate's second connection).
        gate: PipelinedGate | GroupCommitGate
        if cfg.is_sqlite:
            gate = GroupCommitGate(engine, threads=1)
        else:
            gate = PipelinedGate(
                cfg.effective_database_url,
                transaction_pooler=cfg.behind_transaction_pooler,
            )
            gate.start()
        app.state.gate = gate
        app.state.reads = ReadPool.open(
            cfg.effective_database_url, engine, transaction_pooler=cfg.behind_transaction_pooler
        )
        app.state.account_reader = (
            None
            if cfg.is_sqlite
            else PgAccountReader(
                cfg.effective_database_url,
                PLAN.statements,
                transaction_pooler=cfg.behind_transaction_pooler,
            )
        )
        app.state.settings = cfg
        app.state.engine = engine
        app.state.ingest_engine = ingest_engine
        app.state.writer = writer
        app.state.publisher = publisher
        app.state.readiness = Readiness(
            {"database": database_check(engine), "broker": broker_probe.check},
            cfg.readiness_timeout_seconds,
        )
        app.state.database_gauges = database_gauges(engine, cfg.metrics_cache_seconds)
        app.state.publish_commands = publish_command_ids
        app.state.plan_catalog = catalog_for(cfg.plan_catalog)
        # Every API module registered its operations when it was imported, above.
        app.state.openapi = RenderedDocument.build()
        # Everything built so far lives as long as the process: keep it out of the cyclic
        # collector's generations so its full collections stay short under load.
        gc.collect()
        gc.freeze()
        await _warn_if_database_unreachable(engine, cfg)
        try:
            yield
        finally:
            writer.close()
            await gate.aclose()
            app.state.reads.close()
            if app.state.account_reader is not None:
                await app.state.account_reader.aclose()
            publisher.close()
            broker_probe.close()
            ingest_engine.dispose()
            engine.dispose()

    return EdgeApp(
        webhook=Route(WEBHOOK_PATH, stripe_webhook, methods=["POST"]),
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/openapi.json", openapi_json, methods=["GET"]),
            *READ_ROUTES,
            Route("/metrics", metrics, methods=["GET"]),
            *OPS_ROUTES,
            *COMMAND_OPS_ROUTES,
            *BACKFILL_ROUTES,
            *USAGE_OPS_ROUTES,
            *RECONCILE_ROUTES,
            Route("/v1/commands", create_command, methods=["POST"]),
            Route("/v1/commands/{id}", get_command, methods=["GET"]),
            Route("/v1/plans", list_plans, methods=["GET"]),
            *CREDITS_ROUTES,
            *CONSOLE_ROUTES,
        ],
        middleware=[Middleware(EdgeErrorsMiddleware)],
        exception_handlers={HTTPException: http_exception},
        lifespan=lifespan,
    )


app = create_app()
