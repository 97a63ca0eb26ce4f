"""Ops API for rejected usage (the usage dead letters): list them, replay them (`ops` scope).

The same queries and the same audited service as `billing usage dead|replay`
(domain.usage.rejected, domain.ops.usage_replay).
"""

from __future__ import annotations

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.ops.usage_replay import NothingSelected, UsageReplayService
from domain.usage.rejected import RejectedFilter, RejectedUsage, list_rejected
from ingest.auth import require_scope
from ingest.inputs import InvalidInput, parse_body, parse_query
from ingest.ops_api import actor
from ingest.ops_docs import ops_operation
from ingest.ops_schemas_usage import (
    RejectedUsagePage,
    RejectedUsageQuery,
    UsageReplayRequest,
    UsageReplayResponse,
    encode_rejected_cursor,
)
from ingest.responses import ORJSONResponse


@require_scope("ops")
async def list_rejected_usage(request: Request) -> Response:
    """GET /v1/ops/usage/rejected."""
    q = parse_query(RejectedUsageQuery, request)
    flt = RejectedFilter(q.account_ref, q.meter, q.reason_contains)

    def page() -> list[RejectedUsage]:
        with Session(request.app.state.engine) as session:
            return list_rejected(session, flt, limit=q.limit, after=q.cursor)

    rows = await run_in_threadpool(page)
    last = rows[-1] if len(rows) == q.limit else None
    nxt = encode_rejected_cursor(last.rejected_at, last.id) if last and last.rejected_at else None
    return ORJSONResponse({"data": [r.as_dict() for r in rows], "next_cursor": nxt})


@require_scope("ops")
async def replay_usage(request: Request) -> Response:
    """POST /v1/ops/usage/replay."""
    body = await parse_body(request, UsageReplayRequest)
    flt = RejectedFilter(body.account_ref, body.meter, body.reason_contains)
    if body.ids and (body.all or not flt.is_empty):
        raise InvalidInput.one("ids", "give ids or a filter/all, not both")
    service = UsageReplayService(request.app.state.engine)
    try:
        result = await run_in_threadpool(
            lambda: service.replay(
                actor(request),
                record_ids=body.ids,
                flt=flt,
                everything=body.all,
                reason=body.reason,
                dry_run=body.dry_run,
            )
        )
    except NothingSelected as exc:
        raise InvalidInput.one("body", str(exc)) from None
    return ORJSONResponse(result.as_dict())


USAGE_OPS_ROUTES = [
    Route("/v1/ops/usage/rejected", list_rejected_usage, methods=["GET"]),
    Route("/v1/ops/usage/replay", replay_usage, methods=["POST"]),
]

ops_operation(
    "GET",
    "/v1/ops/usage/rejected",
    "List rejected usage records (the usage dead letters) with the reason, newest first",
    query=RejectedUsageQuery,
    responses={200: ("a page", RejectedUsagePage)},
)
ops_operation(
    "POST",
    "/v1/ops/usage/replay",
    "Put rejected usage back to pending by ids, filter or all (dry run unless dry_run=false;"
    " reason required; audited)",
    request=UsageReplayRequest,
    responses={200: ("what was (or would be) replayed", UsageReplayResponse)},
)
