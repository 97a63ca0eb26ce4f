"""The fake Stripe's Billing Meters: meters, v2 meter event sessions and the event stream,
v1 meter events and meter event summaries, and what was billed (for tests to read).

Real Stripe validates stream events asynchronously (errors come back as thin events); the
fake validates them synchronously and refuses the whole request with a 400 naming the first
bad event (`param: events[i]...`), which is what a reporter has to cope with anyway. A
duplicate `identifier` within 24 hours is accepted and not billed again, on both APIs.
"""

from __future__ import annotations

import datetime
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from domain.samples import new_id
from tests.support.fake_stripe_store import Obj, ObjectStore, Route, StripeHTTPError, invalid, route

SESSION_SECONDS = 15 * 60
IDENTIFIER_SECONDS = 24 * 3600
PAST_LIMIT_SECONDS = 35 * 86400
FUTURE_LIMIT_SECONDS = 5 * 60
MAX_STREAM_EVENTS = 100
DAY = 86400


@dataclass(frozen=True, slots=True)
class Billed:
    """One meter event Stripe counted."""

    event_name: str
    customer: str
    value: int
    timestamp: int
    identifier: str
    api: str  # "v2" or "v1"


def _iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat().replace("+00:00", "Z")


def _parse_ts(value: Any) -> int | None:
    """A v2 ISO 8601 timestamp or a v1 integer one."""
    if value is None:
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return int(value)
    try:
        when = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return int(when.timestamp())


class MeterResources:
    """Meters by id, sessions by token, identifiers seen in the last 24 hours, billed events."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.sessions: dict[str, float] = {}  # token -> expires at (fake clock)
        self.identifiers: dict[str, float] = {}  # identifier -> first seen
        self.billed: list[Billed] = []
        self.stream_requests = 0
        # At most this many summaries per page, whatever `limit` asks (a test sets it small
        # to prove that a caller pages through `has_more` / `starting_after`).
        self.summary_page_size = 100
        self.summary_requests = 0
        self._lock = threading.Lock()

    def routes(self) -> list[Route]:
        return [
            route("POST", r"/v2/billing/meter_event_session", self.create_session),
            route("POST", r"/v1/billing/meters", self.create_meter),
            route("GET", r"/v1/billing/meters", self.list_meters),
            route("POST", r"/v1/billing/meter_events", self.create_event_v1),
            route("GET", r"/v1/billing/meters/(\w+)/event_summaries", self.event_summaries),
        ]

    # --- test controls -------------------------------------------------------------------

    def add_meter(self, event_name: str) -> str:
        """A meter summing `value` per `stripe_customer_id`; its id."""
        return str(self.create_meter({"event_name": event_name, "display_name": event_name})["id"])

    def totals(self) -> dict[tuple[str, str], int]:
        """What was billed: the sum per (customer, event_name)."""
        out: dict[tuple[str, str], int] = {}
        with self._lock:
            for b in self.billed:
                out[(b.customer, b.event_name)] = out.get((b.customer, b.event_name), 0) + b.value
        return out

    def expire_sessions(self) -> None:
        """Every session token handed out so far is expired from now on."""
        with self._lock:
            self.sessions = dict.fromkeys(self.sessions, 0.0)

    # --- meters --------------------------------------------------------------------------

    def _meters(self) -> list[Obj]:
        return [o for o in self.store.objects.values() if o.get("object") == "billing.meter"]

    def create_meter(self, params: Obj) -> Obj:
        name = params.get("event_name")
        if not name:
            raise invalid("Missing required param: event_name.", "parameter_missing")
        if any(m["event_name"] == name for m in self._meters()):
            raise invalid(f"A meter with event_name {name} already exists.")
        meter = {
            "id": new_id("mtr"),
            "object": "billing.meter",
            "created": self.store.clock.now(),
            "livemode": False,
            "display_name": params.get("display_name") or name,
            "event_name": name,
            "status": "active",
            "default_aggregation": {"formula": "sum"},
            "customer_mapping": {"event_payload_key": "stripe_customer_id", "type": "by_id"},
            "value_settings": {"event_payload_key": "value"},
            "event_time_window": None,
        }
        self.store.objects[meter["id"]] = meter
        self.store.created["billing.meter"] += 1
        return meter

    def list_meters(self, params: Obj) -> Obj:
        data = [m for m in self._meters() if params.get("status") in (None, m["status"])]
        return {"object": "list", "url": "/v1/billing/meters", "has_more": False, "data": data}

    # --- v2 sessions and stream ----------------------------------------------------------

    def create_session(self, params: Obj) -> Obj:
        now = self.store.clock.time()
        token = "mes_tok_" + secrets.token_urlsafe(24)
        with self._lock:
            self.sessions[token] = now + SESSION_SECONDS
        return {
            "id": new_id("mes"),
            "object": "v2.billing.meter_event_session",
            "authentication_token": token,
            "created": _iso(now),
            "expires_at": _iso(now + SESSION_SECONDS),
            "livemode": False,
        }

    def stream(self, token: str | None, params: Obj) -> Obj:
        """`POST /v2/billing/meter_event_stream`, authenticated by a session token."""
        now = self.store.clock.time()
        with self._lock:
            self.stream_requests += 1
            expires = self.sessions.get(token or "")
        if expires is None:
            raise StripeHTTPError(
                401, "invalid_request_error", "Invalid meter event session token.", "unauthorized"
            )
        if expires <= now:
            raise StripeHTTPError(
                401,
                "temporary_session_expired",
                "The meter event session has expired; create a new one.",
                "billing_meter_event_session_expired",
            )
        events = params.get("events")
        if not isinstance(events, list) or not events:
            raise invalid("Missing required param: events.", "parameter_missing", param="events")
        if len(events) > MAX_STREAM_EVENTS:
            raise invalid(
                f"At most {MAX_STREAM_EVENTS} events per request.",
                "parameter_invalid",
                param="events",
            )
        checked = [self._check(f"events[{i}]", e, now, "v2") for i, e in enumerate(events)]
        self._bill(checked, now)
        return {}

    # --- v1 -----------------------------------------------------------------------------

    def create_event_v1(self, params: Obj) -> Obj:
        now = self.store.clock.time()
        event = self._check("", params, now, "v1")
        self._bill([event], now)
        return {
            "object": "billing.meter_event",
            "created": int(now),
            "event_name": event.event_name,
            "identifier": event.identifier,
            "livemode": False,
            "payload": {"stripe_customer_id": event.customer, "value": str(event.value)},
            "timestamp": event.timestamp,
        }

    # --- summaries -----------------------------------------------------------------------

    def event_summaries(self, params: Obj, meter_id: str) -> Obj:
        meter = self.store.get(meter_id, "billing.meter")
        customer = params.get("customer")
        if not customer:
            raise invalid("Missing required param: customer.", "parameter_missing")
        try:
            start, end = int(params["start_time"]), int(params["end_time"])
        except (KeyError, ValueError):
            raise invalid("start_time and end_time are required integers.") from None
        window = params.get("value_grouping_window")
        step = {"day": DAY, "hour": 3600}.get(window or "", end - start)
        if window and (start % step or end % step):
            raise invalid("start_time and end_time must align with value_grouping_window.")
        summaries = []
        with self._lock:
            self.summary_requests += 1
            billed = [b for b in self.billed if b.event_name == meter["event_name"]]
        for lo in range(start, end, max(step, 1)):
            hi = min(lo + step, end)
            value = sum(
                b.value for b in billed if b.customer == customer and lo <= b.timestamp < hi
            )
            summaries.append(
                {
                    # Stable across calls (Stripe's are too), so `starting_after` can name one.
                    "id": f"mtrusg_{meter_id}_{customer}_{lo}",
                    "object": "billing.meter_event_summary",
                    "aggregated_value": float(value),
                    "start_time": lo,
                    "end_time": hi,
                    "livemode": False,
                    "meter": meter_id,
                }
            )
        return self._page(summaries, params)

    def _page(self, items: list[Obj], params: Obj) -> Obj:
        """One page of a list: `limit` (1-100, capped by `summary_page_size`), `starting_after`."""
        try:
            limit = int(params.get("limit") or 10)
        except ValueError:
            raise invalid("limit must be an integer.", param="limit") from None
        if not 1 <= limit <= 100:
            raise invalid("limit must be between 1 and 100.", param="limit")
        limit = min(limit, self.summary_page_size)
        after = params.get("starting_after")
        start = 0
        if after:
            ids = [i["id"] for i in items]
            if after not in ids:
                raise invalid(f"No such object: '{after}'", "resource_missing")
            start = ids.index(after) + 1
        page = items[start : start + limit]
        return {"object": "list", "has_more": start + limit < len(items), "data": page}

    # --- rules ---------------------------------------------------------------------------

    def _check(self, where: str, event: Any, now: float, api: str) -> Billed:
        def bad(message: str, field: str) -> StripeHTTPError:
            param = f"{where}[{field}]" if where else field
            return invalid(f"{param}: {message}", "parameter_invalid", param=param)

        if not isinstance(event, dict):
            raise bad("must be an object", "event")
        name = event.get("event_name")
        if not isinstance(name, str) or not name or len(name) > 100:
            raise bad("required, at most 100 characters", "event_name")
        if not any(m["event_name"] == name and m["status"] == "active" for m in self._meters()):
            raise StripeHTTPError(
                400,
                "invalid_request_error",
                f"No active meter was found for event_name {name!r}.",
                "billing_meter_not_found",
                param=f"{where}[event_name]" if where else "event_name",
            )
        payload = event.get("payload")
        if not isinstance(payload, dict):
            raise bad("required", "payload")
        customer = payload.get("stripe_customer_id")
        if not isinstance(customer, str) or not customer.startswith("cus_"):
            raise bad("a customer id is required", "payload][stripe_customer_id")
        raw = payload.get("value")
        try:
            value = int(str(raw))
        except ValueError:
            raise bad("must be a whole number", "payload][value") from None
        timestamp = _parse_ts(event.get("timestamp")) if "timestamp" in event else int(now)
        if timestamp is None:
            raise bad("must be an ISO 8601 timestamp", "timestamp")
        if timestamp < now - PAST_LIMIT_SECONDS:
            raise bad("must be within the past 35 days", "timestamp")
        if timestamp > now + FUTURE_LIMIT_SECONDS:
            raise bad("must not be more than 5 minutes in the future", "timestamp")
        identifier = event.get("identifier") or new_id("mev")
        if not isinstance(identifier, str) or len(identifier) > 100:
            raise bad("at most 100 characters", "identifier")
        return Billed(name, customer, value, timestamp, identifier, api)

    def _bill(self, events: list[Billed], now: float) -> None:
        with self._lock:
            for identifier, seen in list(self.identifiers.items()):
                if seen <= now - IDENTIFIER_SECONDS:
                    del self.identifiers[identifier]
            for event in events:
                if event.identifier in self.identifiers:
                    continue  # Stripe's 24 h uniqueness: accepted, not billed again
                self.identifiers[event.identifier] = now
                self.billed.append(event)
