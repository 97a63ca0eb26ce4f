"""The fake Stripe's events: what it emitted, `GET /v1/events`, signed webhook delivery."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from domain.samples import build_event, new_id
from ingest.signature import sign_header
from tests.support.fake_stripe_store import Clock

Obj = dict[str, Any]
_CREATED_OPS = {"gte": int.__ge__, "gt": int.__gt__, "lte": int.__le__, "lt": int.__lt__}


@dataclass
class Delivery:
    """One emitted event; `delivered` is None until the endpoint answered (or none is set)."""

    event: Obj
    delivered: bool | None = None


class EventLog:
    """Every event the fake emitted, and a thread that posts each, signed, to the endpoint."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self._lock = threading.Lock()
        self._events: list[Delivery] = []
        self._outbox: queue.SimpleQueue[Delivery | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._deliver_forever, daemon=True)
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._outbox.put(None)

    def emit(self, event_type: str, obj: Obj, previous: Obj | None) -> None:
        """Record the event Stripe would send for this change, and queue its delivery."""
        # `created` from the same clock as the API's Date header: an event about a change is
        # never older than the answer that made the change (Stripe's own clock for both).
        event = build_event(
            event_type,
            obj,
            event_id=new_id("evt"),
            created=self.clock.now(),
            previous_attributes=previous,
        )
        delivery = Delivery(event)
        with self._lock:
            self._events.append(delivery)
        if self.webhook_url:
            self._outbox.put(delivery)
        else:
            delivery.delivered = False

    def snapshot(self) -> list[Obj]:
        """Every emitted event, oldest first (a copy of the list)."""
        with self._lock:
            return [d.event for d in self._events]

    def mark_delivered(self, delivered_ids: set[str]) -> None:
        """Pretend Stripe's own delivery succeeded for these events and failed for the rest."""
        with self._lock:
            for d in self._events:
                d.delivered = d.event["id"] in delivered_ids

    def all_answered(self) -> bool:
        """True once every emitted event got an answer (or had nowhere to go)."""
        with self._lock:
            return all(d.delivered is not None for d in self._events)

    def _deliver_forever(self) -> None:
        while (delivery := self._outbox.get()) is not None:
            assert self.webhook_secret is not None and self.webhook_url is not None
            body = orjson.dumps(delivery.event)
            headers = {
                "Stripe-Signature": sign_header(
                    self.webhook_secret.encode(), body, int(time.time())
                ),
                "Content-Type": "application/json",
            }
            try:
                ok = httpx.post(
                    self.webhook_url, content=body, headers=headers, timeout=10
                ).is_success
            except httpx.HTTPError:
                ok = False
            delivery.delivered = ok

    def list_events(self, query: Obj) -> Obj:
        """`GET /v1/events`: newest first, with created[gte/gt/lte/lt], types[], paging."""
        with self._lock:
            events = list(reversed(self._events))
        raw_created = query.get("created")
        created: Obj = raw_created if isinstance(raw_created, dict) else {}
        for op, fn in _CREATED_OPS.items():
            if op in created:
                events = [d for d in events if fn(d.event["created"], int(created[op]))]
        if "created" in query and not isinstance(query["created"], dict):
            events = [d for d in events if d.event["created"] == int(query["created"])]
        types = query.get("types") or ([query["type"]] if "type" in query else None)
        if types:
            events = [d for d in events if d.event["type"] in types]
        if "delivery_success" in query:
            wanted = query["delivery_success"] == "true"
            events = [d for d in events if bool(d.delivered) == wanted]
        if "starting_after" in query:
            ids = [d.event["id"] for d in events]
            if query["starting_after"] in ids:
                events = events[ids.index(query["starting_after"]) + 1 :]
        limit = max(1, min(100, int(query.get("limit", 10))))
        return {
            "object": "list",
            "url": "/v1/events",
            "has_more": len(events) > limit,
            "data": [d.event for d in events[:limit]],
        }
