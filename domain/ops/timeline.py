"""One account's history: every event and command about it, in Stripe's order.

An event belongs to the account when its object is the account's customer, or its payload
names the customer id or the account_ref (Stripe objects carry `customer`; checkout
sessions and metadata carry our reference). Stripe's order: created time, then id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, or_, select

from domain.commands.store import COMMANDS
from domain.event_log import EVENTS, Executor

LIMIT = 500


@dataclass(frozen=True)
class Entry:
    """One line of the timeline: an event or a command."""

    kind: str  # "event" or "command"
    id: str
    type: str
    status: str
    at: datetime
    object_id: str | None = None


def _event_terms(account_ref: str, customer_id: str | None) -> list[ColumnElement[bool]]:
    body = EVENTS.c.raw_body
    terms = [body.contains(f'"{account_ref}"', autoescape=True)]
    if customer_id:
        terms += [
            EVENTS.c.object_id == customer_id,
            body.contains(f'"{customer_id}"', autoescape=True),
        ]
    return terms


def account_events(
    bind: Executor, account_ref: str, customer_id: str | None, limit: int = LIMIT
) -> list[Entry]:
    """The account's events, oldest first (created, then id), at most `limit` newest."""
    c = EVENTS.c
    rows = bind.execute(
        select(c.event_id, c.type, c.status, c.event_created, c.object_id)
        .where(or_(*_event_terms(account_ref, customer_id)))
        .order_by(c.event_created.desc(), c.event_id.desc())
        .limit(limit)
    ).all()
    return [
        Entry("event", e, t, str(s), datetime.fromtimestamp(created, UTC), o)
        for e, t, s, created, o in reversed(rows)
    ]


def account_commands(bind: Executor, account_ref: str, limit: int = LIMIT) -> list[Entry]:
    """The account's commands, oldest first."""
    c = COMMANDS.c
    rows = bind.execute(
        select(c.id, c.type, c.status, c.created_at)
        .where(c.account_ref == account_ref)
        .order_by(c.seq.desc())
        .limit(limit)
    ).all()
    return [Entry("command", i, t, str(s), _utc(at)) for i, t, s, at in reversed(rows)]


def timeline(bind: Executor, account_ref: str, customer_id: str | None) -> list[Entry]:
    """Events and commands of the account merged in Stripe's order (created, then id)."""
    entries = account_events(bind, account_ref, customer_id) + account_commands(bind, account_ref)
    return sorted(entries, key=lambda e: (e.at.replace(microsecond=0), e.id))


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
