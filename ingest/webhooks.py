"""POST /webhooks/stripe: verify, store durably, answer, then publish.

Snapshot (v1) and thin (v2, `object: "v2.core.event"`) events take the same path; the
envelope parser tells them apart (domain/envelope.py).

The endpoint is a plain ASGI app (`StripeWebhook`), not a Starlette request handler: it is
the one route under sustained load, and Starlette's Request, routing and exception layers
were a fifth of its CPU (bench/ingest.py, docs/performance.md). The app (`ingest.app`)
hands it POST /webhooks/stripe before the router; the body is read from `receive` without
copying a single-chunk body, the answer goes out with prebuilt headers. Everything else is
unchanged: the edge middleware's request id and JSON 500s, the size limit, the log line
and the counters per event.
"""

from __future__ import annotations

import structlog
from pydantic import BaseModel
from starlette.datastructures import State
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from domain.envelope import EnvelopeError, ensure_storable, parse_envelope
from domain.event_log import NewEvent
from domain.settings import Settings
from ingest import metrics
from ingest.bodies import BodyTooLarge
from ingest.openapi import Operation, document
from ingest.responses import error
from ingest.signature import SignatureError, SignatureVerifier
from ingest.writer import StoreFailed

log = structlog.get_logger("ingest.webhooks")


class WebhookAck(BaseModel):
    """The event is committed; `duplicate` says it had been received before."""

    received: bool
    duplicate: bool


document(
    Operation(
        "POST",
        "/webhooks/stripe",
        "Receive a signed Stripe event",
        "webhooks",
        parameters=(
            {
                "name": "Stripe-Signature",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "t=<unix>,v1=<hex>[,v1=...]",
            },
        ),
        responses={
            200: ("stored (or already stored)", WebhookAck),
            400: (
                "bad signature, not JSON, no id/type, a malformed thin (v2) envelope, "
                "or not storable",
                None,
            ),
            413: ("body over the size limit", None),
            503: ("not stored; Stripe will retry", None),
        },
    )
)


WEBHOOK_PATH = "/webhooks/stripe"
_JSON = (b"content-type", b"application/json")
_ACK_BODIES = {
    True: b'{"received":true,"duplicate":false}',
    False: b'{"received":true,"duplicate":true}',
}
_ACK_LENGTH = {new: (b"content-length", b"%d" % len(b)) for new, b in _ACK_BODIES.items()}


async def read_body(receive: Receive, declared: bytes | None, limit: int) -> bytes:
    """The request body from ASGI messages, refused as soon as it passes `limit` bytes."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            raise ClientDisconnect
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        if not message.get("more_body", False):
            if not chunks:
                return chunk  # the usual case: one chunk, no copy
            chunks.append(chunk)
            return b"".join(chunks)
        chunks.append(chunk)


class StripeWebhook:
    """The ASGI app for POST /webhooks/stripe (the app's state: settings, writer)."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._verifier = SignatureVerifier(())

    def _verifier_for(self, settings: Settings) -> SignatureVerifier:
        # Keys prepared once per settings object (the lifespan's), not per request.
        if settings is not self._settings:
            self._verifier = SignatureVerifier(settings.webhook_secrets)
            self._settings = settings
        return self._verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["app"].state
        settings = state.settings
        signature: bytes | None = None
        declared: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"stripe-signature":
                signature = value
            elif name == b"content-length":
                declared = value
        outcome = await self._handle(state, settings, signature, declared, receive)
        if isinstance(outcome, bool):  # stored: new (True) or a duplicate (False)
            is_new = outcome
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [_JSON, _ACK_LENGTH[is_new]],
                }
            )
            await send({"type": "http.response.body", "body": _ACK_BODIES[is_new]})
            return
        await error(*outcome)(scope, receive, send)

    async def _handle(
        self,
        state: State,
        settings: Settings,
        signature: bytes | None,
        declared: bytes | None,
        receive: Receive,
    ) -> bool | tuple[int, str, str]:
        """Whether the committed event was new, or the (status, code, message) refusing it."""
        limit = settings.webhook_max_body_bytes
        try:
            body = await read_body(receive, declared, limit)
        except BodyTooLarge:
            log.warning("webhook.rejected", reason="body_too_large")
            metrics.rejected("body_too_large")
            return 413, "body_too_large", f"body exceeds {limit} bytes"
        try:
            self._verifier_for(settings).verify(
                body,
                None if signature is None else signature.decode("latin-1"),
                settings.webhook_tolerance_seconds,
            )
        except SignatureError as exc:
            log.warning("webhook.rejected", reason=exc.code)
            metrics.rejected(exc.code, signature=True)
            return 400, exc.code, str(exc)
        try:
            raw = body.decode("utf-8")
            envelope = parse_envelope(body)
            ensure_storable(envelope, body)
        except UnicodeDecodeError:
            log.warning("webhook.rejected", reason="invalid_json")
            metrics.rejected("invalid_json")
            return 400, "invalid_json", "body is not UTF-8 JSON"
        except EnvelopeError as exc:
            log.warning("webhook.rejected", reason=exc.code)
            metrics.rejected(exc.code)
            return 400, exc.code, str(exc)
        try:
            is_new: bool = await state.writer.store(NewEvent(envelope=envelope, raw_body=raw))
        except Exception as exc:  # not stored, so no ack: Stripe retries later
            failed_in_writer = isinstance(exc, StoreFailed)  # which logged the traceback
            log.error(
                "webhook.store_failed",
                event_id=envelope.event_id,
                event_type=envelope.type,
                error_type=type(exc.__cause__ if failed_in_writer else exc).__name__,
                exc_info=None if failed_in_writer else exc,
            )
            metrics.rejected("storage_unavailable")
            return 503, "storage_unavailable", "event could not be stored; retry later"
        log.info(
            "webhook.accepted",
            event_id=envelope.event_id,
            event_type=envelope.type,
            duplicate=not is_new,
        )
        metrics.webhook_event(envelope.type, is_new)
        return is_new


stripe_webhook = StripeWebhook()
