"""Per-process resources (settings, engine, session factory), created after fork."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from domain.db import make_engine, make_sessionmaker
from domain.logs import configure_logging
from domain.mirror.unit import Deps
from domain.plans import catalog_for
from domain.retry import RetryPolicy
from domain.settings import Settings, load_settings
from workers.stripe_gateway import StripeGateway, make_gateway


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    deps: Deps  # what the mirror handlers and command executors are given

    @property
    def retry_policy(self) -> RetryPolicy:
        s = self.settings
        return RetryPolicy(s.retry_base_seconds, s.retry_cap_seconds, s.retry_max_attempts)


_runtime: tuple[int, Runtime] | None = None
_gateway: tuple[int, StripeGateway] | None = None


def build_runtime(settings: Settings) -> Runtime:
    # The plan catalog is read here, once: handlers get it passed in (a bad PLAN_CATALOG
    # stops the worker, as it stops the web app, instead of failing events one by one).
    deps = Deps(
        catalog=catalog_for(settings.plan_catalog),
        grace=timedelta(days=settings.entitlement_grace_days),
        rollover=settings.credits_rollover == "all",
    )
    # Worker writes are re-derivable from the durable event log (ingest commits synchronously):
    # a crash that loses the last few commits just makes those events run again, and every
    # effect is idempotent (stamped mirror rows, unique outbox keys, Stripe idempotency keys).
    engine = make_engine(
        settings.effective_database_url,
        pool_size=4,
        synchronous_commit=settings.worker_synchronous_commit,
        transaction_pooler=settings.behind_transaction_pooler,
    )
    return Runtime(settings=settings, engine=engine, sessions=make_sessionmaker(engine), deps=deps)


def get_runtime() -> Runtime:
    """This process's runtime; a forked child builds its own (connections do not cross fork)."""
    global _runtime
    pid = os.getpid()
    if _runtime is None or _runtime[0] != pid:
        settings = load_settings()
        configure_logging(settings.log_format, settings.log_level)
        _runtime = (pid, build_runtime(settings))
    return _runtime[1]


def get_gateway() -> StripeGateway:
    """This process's Stripe gateway (its HTTP connections do not cross fork either)."""
    global _gateway
    pid = os.getpid()
    if _gateway is None or _gateway[0] != pid:
        _gateway = (pid, make_gateway(get_runtime().settings))
    return _gateway[1]
