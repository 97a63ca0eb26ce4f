"""POST /webhooks/stripe: verify, store durably, answer, then publish.

Snapshot (v1) and thin (v2, `object: "v2.core.event"`) events take the same path; the
envelope parser tells them apart (domain/envelope.py).
"""

from __future__ import annotations

import structlog
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from domain.envelope import EnvelopeError, ensure_storable, parse_envelope
from domain.event_log import NewEvent
from ingest import metrics
from ingest.bodies import BodyTooLarge, read_limited
from ingest.openapi import Operation, document
from ingest.responses import ORJSONResponse, error
from ingest.signature import SignatureError, verify
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


async def stripe_webhook(request: Request) -> Response:
    """Ack only after the raw event is committed; publish after the ack path is decided."""
    state = request.app.state
    settings = state.settings
    try:
        body = await read_limited(request, settings.webhook_max_body_bytes)
    except BodyTooLarge:
        log.warning("webhook.rejected", reason="body_too_large")
        metrics.rejected("body_too_large")
        return error(413, "body_too_large", f"body exceeds {settings.webhook_max_body_bytes} bytes")
    try:
        verify(
            body,
            request.headers.get("stripe-signature"),
            settings.webhook_secrets,
            settings.webhook_tolerance_seconds,
        )
    except SignatureError as exc:
        log.warning("webhook.rejected", reason=exc.code)
        metrics.rejected(exc.code, signature=True)
        return error(400, exc.code, str(exc))
    try:
        raw = body.decode("utf-8")
        envelope = parse_envelope(body)
        ensure_storable(envelope, body)
    except UnicodeDecodeError:
        log.warning("webhook.rejected", reason="invalid_json")
        metrics.rejected("invalid_json")
        return error(400, "invalid_json", "body is not UTF-8 JSON")
    except EnvelopeError as exc:
        log.warning("webhook.rejected", reason=exc.code)
        metrics.rejected(exc.code)
        return error(400, exc.code, str(exc))
    try:
        is_new = await state.writer.store(NewEvent(envelope=envelope, raw_body=raw))
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
        return error(503, "storage_unavailable", "event could not be stored; retry later")
    log.info(
        "webhook.accepted",
        event_id=envelope.event_id,
        event_type=envelope.type,
        duplicate=not is_new,
    )
    metrics.WEBHOOK_EVENTS.labels(envelope.type, "new" if is_new else "duplicate").inc()
    return ORJSONResponse({"received": True, "duplicate": not is_new})
