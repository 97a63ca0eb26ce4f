"""A Stripe object family, declared once, and the one generic way its events are applied.

A family module declares its typed view and `parse` (both API shapes), its same-second
`rank`, its pure `transition`, its `refs` (which object, customer and account an event is
about: the lock keys and the batch's prepared stamps), its `notices`, its table and how
the read API lists it (`listing`, derived from the table). Every event of every family
then goes the same way (`Family.apply`):

    parse -> refs -> lock -> known (the row's stamp) -> stamp -> transition -> write -> notices

The hooks (`known`, `write`, `every_event`) have defaults that suit a family owning one
stamped table; each exists for a family whose rows live differently, named in its comment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Table

from domain.envelope import EventEnvelope
from domain.mirror.batch import Targets
from domain.mirror.families._read import Listing, Related
from domain.mirror.notices import Notice
from domain.mirror.ordering import Stamp, supersedes
from domain.mirror.outbox import add_notification
from domain.mirror.store import current_stamp, key, lock_keys, upsert_stamped
from domain.mirror.unit import Deps, Registration, Unit
from domain.types import utcnow

V = TypeVar("V")  # the family's typed view of its Stripe object
F = TypeVar("F")  # facts about the mirror its transition needs (None for most families)
R = TypeVar("R")  # what its transition returns (a row of its table for most families)
Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Refs:
    """Which objects an event is about: its row, its customer, its account (the lock keys)."""

    id: str | None  # the row's id; None: there is nothing to apply (an upcoming invoice)
    customer_id: str | None = None
    account_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Known(Generic[F]):
    """What the mirror holds before the event: the stamp of the row's last writer, and facts."""

    stamp: Stamp | None
    facts: F


@dataclass(frozen=True, slots=True)
class Incoming(Generic[F]):
    """An event as a family's pure transition and notices see it, besides the view."""

    type: str
    stamp: Stamp
    facts: F
    deps: Deps
    previous: Mapping[str, Any] = field(default_factory=dict)  # previous_attributes


def no_notices(view: Any, incoming: Incoming[Any]) -> Sequence[Notice]:
    return ()


@dataclass(frozen=True)
class Family(Generic[V, F, R]):
    """Everything about one Stripe object family, declared once in the family's module."""

    name: str  # plural, as in the read API's path: "invoices"
    object_type: str  # Stripe's object name: lock keys and notifications' object_type
    event_types: tuple[str, ...]
    parse: Callable[[dict[str, Any], str | None], V]  # (data.object, api_version) -> view
    refs: Callable[[V, EventEnvelope], Refs]
    rank: Callable[[V, str], int]  # same-second tie rank (domain.mirror.ordering.tie_rank)
    transition: Callable[[V, Incoming[F]], R | None]  # called only when the event is newer
    # The family's stamped table: its rows' stamps are read (and prepared for a batch) and
    # its transitions' rows upserted there. None: `known` and `write` say where rows live.
    table: Table | None
    notices: Callable[[V, Incoming[F]], Sequence[Notice]] = no_notices
    kinds: tuple[StrEnum, ...] = ()  # every notification kind `notices` may return
    # Default: the stamp of the row in `table`, no facts. Payment methods add the customer
    # and its default; customers find (or create) and link the account row they write.
    known: Callable[[Unit, V, Refs, datetime], Known[F]] | None = None
    # Default: upsert the row into `table`. Subscriptions also replace their items;
    # customers update the account and flag its default payment method.
    write: Callable[[Unit, R, datetime], None] | None = None
    # Facts applied by every event whatever its stamp (checkout: the account <-> customer link).
    every_event: Callable[[Unit, V, datetime], None] | None = None
    # GET /v1/accounts/{account_ref}/<name> (ingest.read_api builds the route from it).
    listing: Listing | None = None
    # Fields this family's rows give another body: {target: {field: Related}}, where the
    # target is a listed family's name ("subscriptions") or "account" (the account answer).
    adds: Mapping[str, Mapping[str, Related]] = field(default_factory=dict)

    def stamp(self, view: V, event: EventEnvelope) -> Stamp:
        """(event created, tie rank, event id): see domain.mirror.ordering."""
        return Stamp(event.created, self.rank(view, event.type), event.event_id)

    def lock_keys(self, refs: Refs) -> tuple[str | None, ...]:
        return (
            key(self.object_type, refs.id),
            key("customer", refs.customer_id),
            key("account", refs.account_ref),
        )

    def targets(self, event: EventEnvelope) -> Targets:
        """What `apply` will lock and which stamped row it will read (for a batch)."""
        refs = self.refs(self.parse(event.object, event.api_version), event)
        if refs.id is None:
            return Targets()
        rows = ((self.table, refs.id),) if self.table is not None else ()
        return Targets(self.lock_keys(refs), rows)

    def apply(self, unit: Unit, event: EventEnvelope) -> None:
        """Apply one event in the caller's transaction (the handler of every event type)."""
        view = self.parse(event.object, event.api_version)
        refs = self.refs(view, event)
        if refs.id is None:
            return
        now = utcnow()
        lock_keys(unit.session, self.lock_keys(refs), unit.batch)
        known = self._known(unit, view, refs, now)
        stamp = self.stamp(view, event)
        incoming = Incoming(event.type, stamp, known.facts, unit.deps, event.previous_attributes)
        if supersedes(stamp, known.stamp):
            result = self.transition(view, incoming)
            if result is not None:
                self._write(unit, result, now)
        if self.every_event is not None:
            self.every_event(unit, view, now)
        for notice in self.notices(view, incoming):
            if notice.kind not in self.kinds:
                raise ValueError(f"family {self.name} does not declare notices of {notice.kind}")
            customer = notice.customer_id or refs.customer_id
            add_notification(
                unit.session,
                kind=notice.kind,
                event_id=event.event_id,
                event_created=event.created,
                object_type=self.object_type,
                object_id=refs.id,
                customer_id=customer,
                payload={**notice.payload, "customer_id": customer},
                now=now,
            )

    def registrations(self) -> dict[str, Registration]:
        """One registration per event type of the family."""
        return {t: Registration(self.apply, self.targets) for t in self.event_types}

    def _known(self, unit: Unit, view: V, refs: Refs, now: datetime) -> Known[F]:
        if self.known is not None:
            return self.known(unit, view, refs, now)
        assert self.table is not None and refs.id is not None  # see __post_init__
        return Known(current_stamp(unit, self.table, refs.id), cast(F, None))

    def _write(self, unit: Unit, result: R, now: datetime) -> None:
        if self.write is not None:
            self.write(unit, result, now)
            return
        assert self.table is not None  # see __post_init__
        upsert_stamped(unit, self.table, cast(Row, result), now)

    def __post_init__(self) -> None:
        if self.table is None and (self.known is None or self.write is None):
            raise ValueError(f"family {self.name}: without a table, give `known` and `write`")
