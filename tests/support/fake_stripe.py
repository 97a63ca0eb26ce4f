"""A fake Stripe API on localhost for tests: in-memory objects, Stripe's idempotency rules,
injectable faults, an event log with `GET /v1/events`, and signed webhooks to our endpoint.

Built on the stdlib HTTP server rather than an ASGI app because "drop the connection" and
"hang" faults need the raw socket. Resources live in `fake_stripe_api.py` (and the modules
per object family it composes), events and webhook delivery in `fake_stripe_events.py`.
"""

from __future__ import annotations

import collections
import email.utils
import hashlib
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from domain.samples import new_id
from tests.support.fake_stripe_api import FakeResources
from tests.support.fake_stripe_events import EventLog
from tests.support.fake_stripe_meters import MeterResources
from tests.support.fake_stripe_store import Clock, StripeHTTPError
from tests.support.fake_stripe_thin import ThinEvents, send_thin_event

API_KEY = "sk_test_fake_0123456789"
METER_EVENT_STREAM = "/v2/billing/meter_event_stream"  # on meter-events.stripe.com in Stripe


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0]=x`) into nested dicts and lists."""
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        parts = raw_key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1] or str(len(node))] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    fixed = {k: _lists(v) for k, v in node.items()}
    if fixed and all(k.isdigit() for k in fixed):
        return [fixed[k] for k in sorted(fixed, key=int)]
    return fixed


@dataclass
class Fault:
    """What to do to one request: status 429/500 (before any work), or hang/drop after it."""

    kind: str
    should_retry: str | None = None
    retry_after: str | None = None
    on: str | None = None  # "METHOD /path-prefix": only a matching request takes the fault

    def applies_to(self, method: str, path: str) -> bool:
        if self.on is None:
            return True
        want_method, _, prefix = self.on.partition(" ")
        return method == want_method and path.startswith(prefix)


@dataclass
class _State:
    lock: threading.RLock = field(default_factory=threading.RLock)
    faults: collections.deque[Fault] = field(default_factory=collections.deque)
    idempotency: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)


class FakeStripe:
    """Start with `start()`; point STRIPE_API_BASE at `url` and STRIPE_API_KEY at API_KEY."""

    def __init__(self, hang_seconds: float = 3.0) -> None:
        self.state = _State()
        self.clock = Clock()
        self.events = EventLog(self.clock)
        self.resources = FakeResources(self.events.emit, self.clock)
        self.thin = ThinEvents(self.clock)  # thin (v2) events, for GET /v2/core/events/{id}
        # Stripe dates every answer (HTTP `Date`, its own clock); a test can turn it off.
        self.send_date_header = True
        self.hang_seconds = hang_seconds
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeStripe:
        self._thread.start()
        self.events.start()
        return self

    def stop(self) -> None:
        self.events.stop()
        self._server.shutdown()
        self._server.server_close()

    # --- test controls -------------------------------------------------------------------

    def fail_next(self, kind: str, times: int = 1, **options: str) -> None:
        """The next `times` requests (matching `on="POST /v1/..."`, if given) get `kind`:
        "429", "500", "hang" or "drop"."""
        with self.state.lock:
            self.state.faults.extend(Fault(kind, **options) for _ in range(times))

    def created(self, object_type: str) -> int:
        """How many objects of this type were really created (replays do not count)."""
        return self.resources.created[object_type]

    def calls(self, method: str, path_prefix: str) -> int:
        """Requests received (including failed and replayed ones) to paths under a prefix."""
        return sum(1 for m, p in self.state.requests if m == method and p.startswith(path_prefix))

    def send_webhooks_to(self, url: str, secret: str) -> None:
        """Post every event emitted from now on, signed with `secret`, to `url`."""
        self.events.webhook_url, self.events.webhook_secret = url, secret

    def complete_checkout(self, session_id: str, payment_method: str = "card") -> dict[str, Any]:
        """The customer pays: subscription, paid invoice and their webhooks, like Stripe."""
        return self.resources.complete_checkout(session_id, payment_method)

    def wait_delivered(self, timeout: float = 10.0) -> bool:
        """True once every emitted event got an answer from the webhook endpoint."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.events.all_answered():
                return True
            time.sleep(0.05)
        return False

    def send_thin_event(self, event: dict[str, Any]) -> int:
        """Post a thin event (created with `self.thin`), signed, to the webhook endpoint set
        by `send_webhooks_to`; returns the endpoint's HTTP status."""
        assert self.events.webhook_url and self.events.webhook_secret, "send_webhooks_to first"
        url, secret = self.events.webhook_url, self.events.webhook_secret
        return send_thin_event(url, secret, event).status_code

    @property
    def meters(self) -> MeterResources:
        """Billing Meters: `add_meter`, `totals()` and `billed` (what Stripe counted)."""
        return self.resources.meters

    def list_events(self, query: dict[str, Any]) -> dict[str, Any]:
        """`GET /v1/events` (see `EventLog.list_events`)."""
        return self.events.list_events(query)

    # --- request handling ----------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        params: dict[str, Any],
        key: str | None,
        authorized: bool,
        bearer: str | None = None,
    ) -> tuple[int, bytes, dict[str, str]] | Fault:
        with self.state.lock:
            self.state.requests.append((method, path))
            fault = next((f for f in self.state.faults if f.applies_to(method, path)), None)
            if fault is not None:
                self.state.faults.remove(fault)
        stream = method == "POST" and path == METER_EVENT_STREAM  # a session token, not the key
        if not authorized and not stream:
            return _error(401, "invalid_request_error", "Invalid API Key provided", None)
        if fault is not None and fault.kind in ("429", "500"):
            headers = {}
            if fault.should_retry:
                headers["Stripe-Should-Retry"] = fault.should_retry
            if fault.retry_after:
                headers["Retry-After"] = fault.retry_after
            status, kind = (429, "rate_limit_error") if fault.kind == "429" else (500, "api_error")
            code = "rate_limit" if status == 429 else None
            return _error(status, kind, f"fake {fault.kind}", code, headers)
        if stream:
            answer = self._stream(bearer, params)
        else:
            answer = self._idempotent(method, path, params, key)
        return fault if fault is not None else answer

    def _idempotent(
        self, method: str, path: str, params: dict[str, Any], key: str | None
    ) -> tuple[int, bytes, dict[str, str]]:
        if method != "POST" or key is None:
            return self._execute(method, path, params)
        fingerprint = hashlib.sha256(
            orjson.dumps([method, path, params], option=orjson.OPT_SORT_KEYS)
        ).hexdigest()
        with self.state.lock:  # one request per key at a time, like Stripe's key lock
            stored = self.state.idempotency.get(key)
            if stored is not None:
                if stored[0] != fingerprint:
                    return _error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with.",
                        None,
                    )
                return stored[1], stored[2], {"Idempotent-Replayed": "true"}
            status, body, headers = self._execute(method, path, params)
            if status < 500:
                self.state.idempotency[key] = (fingerprint, status, body)
            return status, body, headers

    def _stream(
        self, bearer: str | None, params: dict[str, Any]
    ) -> tuple[int, bytes, dict[str, str]]:
        try:
            return 200, orjson.dumps(self.resources.meters.stream(bearer, params)), {}
        except StripeHTTPError as exc:
            return _error(exc.status, exc.type, exc.message, exc.code, extra=exc.extra)

    def _execute(
        self, method: str, path: str, params: dict[str, Any]
    ) -> tuple[int, bytes, dict[str, str]]:
        if method == "GET" and path == "/v1/events":
            return 200, orjson.dumps(self.list_events(params)), {}
        try:
            if method == "GET" and path.startswith("/v2/core/events/"):
                return 200, orjson.dumps(self.thin.get(path.removeprefix("/v2/core/events/"))), {}
            with self.state.lock:
                obj = self.resources.route(method, path, params)
        except StripeHTTPError as exc:
            return _error(exc.status, exc.type, exc.message, exc.code, extra=exc.extra)
        public = {k: v for k, v in obj.items() if not k.startswith("_")}
        return 200, orjson.dumps(public), {}


def _error(
    status: int,
    kind: str,
    message: str,
    code: str | None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[int, bytes, dict[str, str]]:
    err = {"type": kind, "message": message, **({"code": code} if code else {}), **(extra or {})}
    return status, orjson.dumps({"error": err}), headers or {}


def _handler(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are two writes: without TCP_NODELAY, Nagle holds the body until
        # the client's delayed ACK (~40 ms a request on keep-alive connections).
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:  # quiet test output
            return

        def send_response(self, code: int, message: str | None = None) -> None:
            # The stdlib's, with the Date from the fake's clock (and optional).
            self.send_response_only(code, message)
            self.send_header("Server", "fake-stripe")
            if fake.send_date_header:
                self.send_header("Date", email.utils.formatdate(fake.clock.time(), usegmt=True))

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            pairs = parse_qsl(url.query, keep_blank_values=True)
            json_body = (self.headers.get("Content-Type") or "").startswith("application/json")
            if not json_body:
                pairs += parse_qsl(body, keep_blank_values=True)
            params = parse_form(pairs)
            if json_body and body:  # the v2 API's JSON bodies
                loaded = orjson.loads(body)
                params.update(loaded if isinstance(loaded, dict) else {})
            auth = self.headers.get("Authorization", "")
            answer = fake.handle(
                self.command,
                url.path,
                params,
                self.headers.get("Idempotency-Key"),
                authorized=auth == f"Bearer {API_KEY}",
                bearer=auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None,
            )
            if isinstance(answer, Fault):
                if answer.kind == "hang":
                    time.sleep(fake.hang_seconds)
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            status, payload, headers = answer
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Request-Id", new_id("req"))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _serve

    return Handler
