"""What every mirror handler shares: the plan catalog and writing notices to the outbox."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import cache
from pathlib import Path

from sqlalchemy.orm import Session

from domain.envelope import EventEnvelope
from domain.mirror.notices import Notice
from domain.mirror.outbox import add_notification
from domain.plans import PlanCatalog, catalog_for
from domain.settings import load_settings


@cache
def _catalog_path() -> Path | None:
    return load_settings().plan_catalog


def plan_catalog() -> PlanCatalog:
    """This process's plan catalog (PLAN_CATALOG, else the bundled example)."""
    return catalog_for(_catalog_path())


def write_notices(
    session: Session,
    event: EventEnvelope,
    notices: Iterable[Notice],
    *,
    object_type: str,
    object_id: str | None,
    customer_id: str | None,
    now: datetime,
) -> None:
    """Add each notice to the outbox in the handler's transaction (once per event and kind)."""
    for notice in notices:
        add_notification(
            session,
            kind=notice.kind,
            event_id=event.event_id,
            event_created=event.created,
            object_type=object_type,
            object_id=object_id,
            customer_id=customer_id,
            payload={**notice.payload, "customer_id": customer_id},
            now=now,
        )
