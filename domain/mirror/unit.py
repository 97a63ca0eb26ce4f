"""The unit of work events are applied in, what the process passes into it, and how a
handler is registered for an event type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from domain.envelope import EventEnvelope
from domain.mirror.batch import Batch, Targets
from domain.plans import PlanCatalog


@dataclass(frozen=True, slots=True)
class Deps:
    """What handlers need from their process, passed in (never read from the environment)."""

    catalog: PlanCatalog
    grace: timedelta = timedelta(days=7)  # ENTITLEMENT_GRACE_DAYS (credits' period grants)
    rollover: bool = False  # CREDITS_ROLLOVER=all: unused allowance stays at period end


@dataclass(frozen=True, slots=True)
class Unit:
    """One transaction applying events: the caller's session (the caller commits), the
    process's dependencies, and the batch state when it applies several events at once."""

    session: Session
    deps: Deps
    batch: Batch | None = None


Handler = Callable[[Unit, EventEnvelope], None]
TargetsOf = Callable[[EventEnvelope], Targets]


@dataclass(frozen=True, slots=True)
class Registration:
    """How one event type is applied: its handler and, to prepare a batch, what the handler
    will lock and read (None: nothing to prepare, the handler goes to the database)."""

    handler: Handler
    targets: TargetsOf | None = None
