"""The one module that talks to Stripe: `stripe.StripeClient`, rate-limited, errors classified.

No global `stripe.api_key`; the SDK's own network retries are off because retries live in
the database (with backoff that survives a worker restart); every write carries the
command's idempotency key, so a retried call is replayed by Stripe, never repeated.
"""

from __future__ import annotations

import datetime
import email.utils
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import stripe

from domain.envelope import is_api_path
from domain.settings import Settings
from workers.metrics import observe_stripe_call
from workers.rate_limit import RateLimiter, limiter_for

Obj = dict[str, Any]
TRANSIENT_STATUSES = frozenset({409, 429})
# A runaway guard on paging meter event summaries (100 a page: years of daily windows).
MAX_SUMMARY_PAGES = 1000


@dataclass(frozen=True)
class StripeFailure(Exception):
    """A Stripe call failed; `transient` says whether the same call may succeed later."""

    transient: bool
    error: Obj = field(default_factory=dict)
    retry_after: float | None = None

    def __str__(self) -> str:
        e = self.error
        return f"{e.get('type')}/{e.get('code')}: {e.get('message')}"


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for k, v in headers.items():
        if k.lower() == name:
            return v
    return None


def _retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Retry-After in seconds: delta-seconds or an HTTP date (RFC 9110 allows both)."""
    value = _header(headers, "retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT; a zone-less one is read as such
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class StripeResult(dict[str, Any]):
    """A Stripe object as one call returned it, and the second Stripe answered in.

    `answered_at` is the response's `Date` header (Stripe's clock, second resolution), or
    None when there was none or the answer is an idempotent replay (`Idempotent-Replayed:
    true`): a replay's Date is the replay's, while its body is the state of the first call.
    """

    def __init__(self, data: Obj, answered_at: int | None, received_us: int | None = None) -> None:
        super().__init__(data)
        self.answered_at = answered_at
        # Our clock when the answer arrived (µs): orders two answers of one Stripe second.
        self.received_us = received_us


def answered_at(headers: Mapping[str, str] | None) -> int | None:
    """The second of a fresh answer from its Date header (None: absent, unparsable, replayed)."""
    if (_header(headers, "idempotent-replayed") or "").lower() == "true":
        return None
    value = _header(headers, "date")
    if value is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT
        when = when.replace(tzinfo=datetime.UTC)
    return int(when.timestamp())


def classify(exc: stripe.StripeError) -> StripeFailure:
    """Transient (network, timeout, 409 lock, 429, 5xx) or permanent, honouring Stripe's hint."""
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    err: Obj = body["error"] if isinstance(body.get("error"), dict) else {}
    status = exc.http_status
    error: Obj = {
        "type": err.get("type") or _fallback_type(exc),
        "code": err.get("code") or exc.code,
        "decline_code": err.get("decline_code"),
        "param": err.get("param"),
        "message": err.get("message") or exc.user_message or type(exc).__name__,
        "http_status": status,
        "request_id": exc.request_id,
    }
    hint = _header(exc.headers, "stripe-should-retry")
    if hint in ("true", "false"):
        transient = hint == "true"
    elif isinstance(exc, stripe.APIConnectionError):
        transient = True
    elif error["type"] == "idempotency_error":
        # A key reused with other params is answered the same way on every retry (a 409
        # here is a conflict of parameters, not the in-flight lock that clears by itself).
        transient = False
    else:
        transient = status is not None and (status in TRANSIENT_STATUSES or status >= 500)
    return StripeFailure(transient, error, _retry_after(exc.headers))


def endpoint_name(op: Callable[..., Any]) -> str:
    """A stable, low-cardinality metric label: `stripe.checkout._session_service` `create` ->
    `checkout.session.create` (from the SDK service's module, so namespaces stay apart)."""
    module = type(getattr(op, "__self__", None)).__module__
    parts = [p.strip("_").removesuffix("_service") for p in module.split(".")[1:]]
    return ".".join([*parts, getattr(op, "__name__", "call")])


def error_kind(error: Obj) -> str:
    """Error label for metrics: Stripe's type, and its code when there is one."""
    kind = str(error.get("type") or "api_error")
    return f"{kind}:{error['code']}" if error.get("code") else kind


def _fallback_type(exc: stripe.StripeError) -> str:
    if isinstance(exc, stripe.APIConnectionError):
        return "api_connection_error"
    if isinstance(exc, stripe.AuthenticationError):
        return "authentication_error"
    if isinstance(exc, stripe.PermissionError):
        return "permission_error"
    return "api_error"


class StripeGateway:
    """Typed-enough wrappers around the Stripe calls the command executors make."""

    def __init__(self, client: stripe.StripeClient, limiter: RateLimiter) -> None:
        self._client = client
        self._limiter = limiter

    def _call(
        self,
        op: Callable[..., Any],
        *args: Any,
        params: Obj | None = None,
        key: str | None = None,
        context: str | None = None,
        api_key: str | None = None,
    ) -> Obj:
        options: dict[str, Any] = {"idempotency_key": key} if key else {}
        if context:
            options["stripe_context"] = context
        if api_key:  # e.g. a meter event session's token instead of the secret key
            options["api_key"] = api_key
        return self._invoke(
            endpoint_name(op), lambda: op(*args, params=params or {}, options=options)
        )

    def _invoke(self, endpoint: str, call: Callable[[], Any]) -> Obj:
        """One rate-limited call, timed and counted; a Stripe error becomes a StripeFailure."""
        self._limiter.acquire()
        started = time.perf_counter()
        try:
            result = call()
        except stripe.StripeError as exc:
            failure = classify(exc)
            observe_stripe_call(
                endpoint,
                exc.http_status or 0,
                time.perf_counter() - started,
                error_kind(failure.error),
            )
            raise failure from exc
        observe_stripe_call(endpoint, 200, time.perf_counter() - started, None)
        received = time.time_ns() // 1000
        if isinstance(result, stripe.StripeResponse):  # a raw request: the JSON as sent
            body = result.data if isinstance(result.data, dict) else {}
            return StripeResult(body, answered_at(result.headers), received)
        if result is None:  # v2 endpoints that answer with an empty body
            return StripeResult({}, None, received)
        data = result.to_dict(for_json=True) if hasattr(result, "to_dict") else dict(result)
        response = getattr(result, "last_response", None)
        return StripeResult(data, answered_at(getattr(response, "headers", None)), received)

    @property
    def v1(self) -> Any:
        return self._client.v1

    def create_customer(self, params: Obj, key: str) -> Obj:
        return self._call(self.v1.customers.create, params=params, key=key)

    def search_customers(self, query: str) -> list[Obj]:
        """Customers matching a Stripe search query (the index lags writes by up to a minute)."""
        page = self._call(self.v1.customers.search, params={"query": query, "limit": 10})
        return list(page.get("data", []))

    def update_customer(self, customer_id: str, params: Obj, key: str) -> Obj:
        return self._call(self.v1.customers.update, customer_id, params=params, key=key)

    def list_tax_ids(self, customer_id: str) -> list[Obj]:
        page = self._call(self.v1.customers.tax_ids.list, customer_id, params={"limit": 100})
        return list(page.get("data", []))

    def create_tax_id(self, customer_id: str, params: Obj, key: str) -> Obj:
        return self._call(self.v1.customers.tax_ids.create, customer_id, params=params, key=key)

    def delete_tax_id(self, customer_id: str, tax_id: str) -> Obj:
        return self._call(self.v1.customers.tax_ids.delete, customer_id, tax_id)

    def create_checkout_session(self, params: Obj, key: str) -> Obj:
        return self._call(self.v1.checkout.sessions.create, params=params, key=key)

    def create_portal_session(self, params: Obj, key: str) -> Obj:
        return self._call(self.v1.billing_portal.sessions.create, params=params, key=key)

    def retrieve_subscription(self, subscription_id: str) -> Obj:
        return self._call(self.v1.subscriptions.retrieve, subscription_id)

    def update_subscription(self, subscription_id: str, params: Obj, key: str) -> Obj:
        return self._call(self.v1.subscriptions.update, subscription_id, params=params, key=key)

    def cancel_subscription(self, subscription_id: str, params: Obj, key: str) -> Obj:
        return self._call(self.v1.subscriptions.cancel, subscription_id, params=params, key=key)

    def create_subscription_item(self, params: Obj, key: str) -> Obj:
        return self._call(self.v1.subscription_items.create, params=params, key=key)

    def delete_subscription_item(self, item_id: str, params: Obj | None = None) -> Obj:
        """DELETE is idempotent by nature (Stripe ignores keys on it): a second one is a 404."""
        return self._call(self.v1.subscription_items.delete, item_id, params=params)

    def create_schedule(self, params: Obj, key: str) -> Obj:
        return self._call(self.v1.subscription_schedules.create, params=params, key=key)

    def update_schedule(self, schedule_id: str, params: Obj, key: str) -> Obj:
        return self._call(
            self.v1.subscription_schedules.update, schedule_id, params=params, key=key
        )

    def retrieve_payment_method(self, payment_method_id: str) -> Obj:
        return self._call(self.v1.payment_methods.retrieve, payment_method_id)

    def attach_payment_method(self, payment_method_id: str, params: Obj, key: str) -> Obj:
        return self._call(self.v1.payment_methods.attach, payment_method_id, params=params, key=key)

    def detach_payment_method(self, payment_method_id: str, key: str) -> Obj:
        return self._call(self.v1.payment_methods.detach, payment_method_id, key=key)

    def create_setup_intent(self, params: Obj, key: str) -> Obj:
        return self._call(self.v1.setup_intents.create, params=params, key=key)

    def preview_invoice(self, params: Obj, key: str) -> Obj:
        return self._call(self.v1.invoices.create_preview, params=params, key=key)

    def list_events(self, params: Obj) -> Obj:
        """One page of `GET /v1/events` (newest first; `created`, `types`, `starting_after`)."""
        return self._call(self.v1.events.list, params=params)

    def retrieve_thin_event(self, event_id: str, context: str | None = None) -> Obj:
        """`GET /v2/core/events/{id}`: a thin event in full, with its `data`."""
        return self._call(self._client.v2.core.events.retrieve, event_id, context=context)

    def retrieve_path(self, path: str, context: str | None = None) -> Obj:
        """`GET` an API path a thin event's `related_object.url` names (paths only, no host)."""
        if not is_api_path(path):
            raise ValueError("not a Stripe API path")
        options = {"stripe_context": context} if context else {}
        kind = path.split("/")[2] if path.count("/") >= 3 else "object"
        endpoint = f"related_object.{kind}.retrieve"  # low cardinality: no ids in the label
        return self._invoke(endpoint, lambda: self._client.raw_request("get", path, **options))

    def list_path(self, path: str, params: Obj) -> Obj:
        """`GET` one page of a v1 list endpoint (`/v1/subscriptions`, ...) for reconcile."""
        if not is_api_path(path):
            raise ValueError("not a Stripe API path")
        endpoint = f"list.{path.split('/')[2]}"  # low cardinality: the resource, no ids
        return self._invoke(endpoint, lambda: self._client.raw_request("get", path, **params))

    # --- Billing Meters (usage reporting) ---------------------------------------------------

    def create_meter_event_session(self) -> Obj:
        """`POST /v2/billing/meter_event_session`: a token for the stream, valid 15 minutes."""
        return self._call(self._client.v2.billing.meter_event_session.create)

    def send_meter_event_stream(self, token: str, events: list[Obj]) -> None:
        """`POST /v2/billing/meter_event_stream` (meter-events host), up to 100 events."""
        self._call(
            self._client.v2.billing.meter_event_stream.create,
            params={"events": events},
            api_key=token,
        )

    def create_meter_event(self, params: Obj, key: str) -> Obj:
        """`POST /v1/billing/meter_events`: one event (the v1 fallback)."""
        return self._call(self.v1.billing.meter_events.create, params=params, key=key)

    def list_meters(self) -> list[Obj]:
        page = self._call(self.v1.billing.meters.list, params={"limit": 100, "status": "active"})
        return list(page.get("data", []))

    def meter_event_summaries(self, meter_id: str, params: Obj) -> list[Obj]:
        """`GET /v1/billing/meters/{id}/event_summaries` (customer, start_time, end_time):
        every page (`has_more` / `starting_after`), each call through the rate limiter."""
        summaries: list[Obj] = []
        after: str | None = None
        for _ in range(MAX_SUMMARY_PAGES):
            query = {"limit": 100, **params, **({"starting_after": after} if after else {})}
            page = self._call(self.v1.billing.meters.event_summaries.list, meter_id, params=query)
            data = list(page.get("data", []))
            summaries += data
            if not page.get("has_more") or not data:
                return summaries
            after = str(data[-1]["id"])
        raise RuntimeError(f"meter {meter_id}: more than {MAX_SUMMARY_PAGES} summary pages")


class _HTTPXClient(stripe.HTTPXClient):  # type: ignore[misc]
    """Stripe's httpx client, sending the form body as `content` (httpx deprecates `data=str`)."""

    def _get_request_args_kwargs(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> Any:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        data = kwargs.pop("data", None)
        if data:
            kwargs["content"] = data
        return [args, kwargs]


def make_gateway(settings: Settings, limiter: RateLimiter | None = None) -> StripeGateway:
    """A gateway for these settings (STRIPE_API_KEY, STRIPE_API_BASE, timeouts, rate limit)."""
    key = settings.stripe_api_key.get_secret_value() if settings.stripe_api_key else ""
    timeout = settings.stripe_timeout_seconds
    # The SDK logs request and response bodies at DEBUG, and Stripe's error messages (which
    # echo params such as e-mail addresses) at INFO; our own log lines carry ids and codes.
    logging.getLogger("stripe").setLevel(logging.WARNING)
    client = stripe.StripeClient(
        key,
        base_addresses={
            "api": settings.stripe_api_base.rstrip("/"),
            "meter_events": settings.stripe_meter_events_base.rstrip("/"),
        },
        max_network_retries=0,
        http_client=_HTTPXClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), allow_sync_methods=True
        ),
    )
    if limiter is None:
        url = settings.stripe_rate_limit_url or settings.effective_broker_url
        limiter = limiter_for(
            url, settings.stripe_rate_limit_per_second, key_prefix=settings.broker_key_prefix
        )
    return StripeGateway(client, limiter)
