"""Pure helpers for the family unit tests: events as envelopes, a family's rules applied
as its generic path would, without a database."""

from __future__ import annotations

from typing import Any

import orjson

from domain.envelope import EventEnvelope, parse_envelope
from domain.mirror.families._family import Family, Incoming
from domain.mirror.ordering import Stamp, supersedes
from domain.mirror.stripe_json import ApiShape
from domain.mirror.unit import Deps
from tests.mirror import factory as f

DEPS = Deps(catalog=f.CATALOG)
T = 1_720_000_000


def envelope(
    event_type: str,
    obj: dict[str, Any],
    created: int = T,
    *,
    shape: ApiShape = ApiShape.CURRENT,
    event_id: str = "evt_1",
    previous: dict[str, Any] | None = None,
) -> EventEnvelope:
    """The envelope the processor would parse for this event."""
    raw = f.event(event_type, obj, created, shape=shape, event_id=event_id, previous=previous)
    return parse_envelope(orjson.dumps(raw))


def incoming(family: Family[Any, Any, Any], event: EventEnvelope, facts: Any = None) -> Any:
    """(view, Incoming) of an event, as `Family.apply` builds them."""
    view = family.parse(event.object, event.api_version)
    stamp = family.stamp(view, event)
    return view, Incoming(event.type, stamp, facts, DEPS, event.previous_attributes)


def decide(
    family: Family[Any, Any, Any],
    event: EventEnvelope,
    current: Stamp | None = None,
    facts: Any = None,
) -> Any:
    """What the generic path would write for `event` over a row stamped `current`."""
    view, inc = incoming(family, event, facts)
    return family.transition(view, inc) if supersedes(inc.stamp, current) else None


def stamp(family: Family[Any, Any, Any], event: EventEnvelope) -> Stamp:
    return family.stamp(family.parse(event.object, event.api_version), event)
