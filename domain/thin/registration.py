"""How a thin (v2) event type is handled: what the worker fetches, then what the handler does.

A thin event carries no object: its handler needs either the event in full (`GET
/v2/core/events/{id}`, with `data`) or the object it refers to (`related_object.url`). The
worker fetches that through the Stripe gateway before the handler's transaction (never at
ingest, never inside a transaction); the handler then gets the fetched JSON, writes in the
caller's transaction, and returns what to count on the ops metric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.envelope import EventEnvelope
from domain.mirror.unit import Unit


class Fetch(StrEnum):
    """What the worker fetches for a thin event before its handler runs."""

    EVENT = "event"  # GET /v2/core/events/{id}: the event with its `data`
    RELATED_OBJECT = "related_object"  # GET related_object.url: the object's current state


# code -> count, added to `billing_thin_event_codes_total{type, code}` after the commit.
Counts = Mapping[str, int]
ThinHandler = Callable[[Unit, EventEnvelope, dict[str, Any]], Counts]


@dataclass(frozen=True, slots=True)
class ThinRegistration:
    """One thin event type's handler and what it needs fetched."""

    handler: ThinHandler
    fetch: Fetch = Fetch.EVENT
