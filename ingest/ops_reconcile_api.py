"""`POST /v1/ops/reconcile`: a bounded slice of a drift reconciliation per call (`ops` scope).

Like the backfill route: each call pages at most `max_pages` synchronously and answers
with the run's totals and findings; while `complete` is false the caller posts again with
`resume: true` (or continues with `billing reconcile --resume`).
"""

from __future__ import annotations

from datetime import timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.mirror.unit import Deps
from domain.ops.filters import parse_since
from domain.ops.reconcile import ReconcileRefused, ReconcileService
from domain.ops.reconcile_kinds import parse_kinds
from ingest.auth import require_scope
from ingest.inputs import InvalidInput, parse_body
from ingest.ops_api import actor
from ingest.ops_docs import ops_operation
from ingest.ops_schemas_reconcile import ReconcileRequest, ReconcileResponse
from ingest.responses import ORJSONResponse, error

DEFAULT_SINCE = "7d"


def _service(request: Request, page_size: int) -> ReconcileService:
    # Imported here: the edge uses the gateway module, never Celery task bodies.
    from workers.reconcile import reconcile_service

    state = request.app.state
    settings = state.settings
    deps = Deps(
        catalog=state.plan_catalog,
        grace=timedelta(days=settings.entitlement_grace_days),
        rollover=settings.credits_rollover == "all",
    )
    return reconcile_service(state.engine, settings, deps, page_size=page_size)


@require_scope("ops")
async def reconcile(request: Request) -> Response:
    """POST /v1/ops/reconcile."""
    body = await parse_body(request, ReconcileRequest)
    if body.resume and (body.since is not None or body.objects or body.repair):
        raise InvalidInput.one("resume", "resume continues the stored run with its own options")
    if body.repair and not (body.reason or "").strip():
        raise InvalidInput.one("reason", "repair changes the mirror: give a reason")
    service = _service(request, body.page_size)
    try:
        if body.resume:
            result = await run_in_threadpool(
                service.resume, actor(request), reason=body.reason, max_pages=body.max_pages
            )
        else:
            result = await run_in_threadpool(
                service.start,
                actor(request),
                body.since or parse_since(DEFAULT_SINCE),
                parse_kinds(body.objects),
                repair=body.repair,
                reason=body.reason,
                max_pages=body.max_pages,
            )
    except ReconcileRefused as exc:
        raise InvalidInput.one("resume" if body.resume else "since", str(exc)) from None
    if result.stopped == "error":
        return error(
            502, "stripe_unavailable", result.error or "Stripe failed", reconcile=result.as_dict()
        )
    if result.stopped == "conflict":
        return error(409, "conflict", result.error or "", reconcile=result.as_dict())
    return ORJSONResponse(result.as_dict())


RECONCILE_ROUTES = [Route("/v1/ops/reconcile", reconcile, methods=["POST"])]

ops_operation(
    "POST",
    "/v1/ops/reconcile",
    "Compare the mirror with Stripe's lists: missing, extra and differing rows; repair them",
    request=ReconcileRequest,
    responses={
        200: (
            "run totals and drift; complete=false means call again with resume",
            ReconcileResponse,
        ),
        409: ("another reconcile moved the run on", None),
        502: ("Stripe failed; the cursor is kept, resume later", None),
    },
)
