"""`POST /v1/ops/backfill`: a bounded slice of a backfill per call (bearer token, `ops` scope).

Each call fetches at most `max_pages` pages synchronously and answers with the run's totals;
while `complete` is false the caller posts again with `resume: true`. The cursor lives in
the database, so calls may come from anywhere (or be continued by `billing backfill --resume`).
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.ops.backfill import BackfillRefused, BackfillService
from ingest.auth import require_scope
from ingest.inputs import InvalidInput, parse_body
from ingest.ops_api import actor
from ingest.ops_docs import ops_operation
from ingest.ops_schemas_backfill import BackfillRequest, BackfillResponse
from ingest.responses import ORJSONResponse, error


def _service(request: Request, page_size: int) -> BackfillService:
    # Imported here: the edge uses the gateway module, never Celery task bodies.
    from workers.backfill import backfill_service

    state = request.app.state
    return backfill_service(
        state.engine, state.settings, state.publisher.submit, page_size=page_size
    )


@require_scope("ops")
async def backfill(request: Request) -> Response:
    """POST /v1/ops/backfill."""
    body = await parse_body(request, BackfillRequest)
    since = body.since
    if body.resume == (since is not None):
        raise InvalidInput.one("since", "give either since or resume")
    if body.resume and (body.types or body.undelivered_only):
        raise InvalidInput.one("resume", "resume continues the stored run with its own filters")
    service = _service(request, body.page_size)
    kwargs: dict[str, Any] = {"reason": body.reason, "max_pages": body.max_pages}
    try:
        if since is not None:
            result = await run_in_threadpool(
                service.start,
                actor(request),
                since,
                types=body.types,
                undelivered_only=body.undelivered_only,
                **kwargs,
            )
        else:
            result = await run_in_threadpool(service.resume, actor(request), **kwargs)
    except BackfillRefused as exc:
        raise InvalidInput.one("since" if since is not None else "resume", str(exc)) from None
    if result.stopped == "error":
        return error(
            502, "stripe_unavailable", result.error or "Stripe failed", backfill=result.as_dict()
        )
    if result.stopped == "conflict":
        return error(409, "conflict", result.error or "", backfill=result.as_dict())
    return ORJSONResponse(result.as_dict())


BACKFILL_ROUTES = [Route("/v1/ops/backfill", backfill, methods=["POST"])]

ops_operation(
    "POST",
    "/v1/ops/backfill",
    "Fetch missed events from Stripe (at most max_pages per call; resume until complete)",
    request=BackfillRequest,
    responses={
        200: ("run totals; complete=false means call again with resume", BackfillResponse),
        409: ("another backfill moved the run on", None),
        502: ("Stripe failed; the cursor is kept, resume later", None),
    },
)
