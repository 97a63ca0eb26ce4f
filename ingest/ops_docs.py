"""OpenAPI entries of the ops API (kept apart from the handlers so each file stays small)."""

from __future__ import annotations

from typing import Any

from ingest.openapi import Operation, document, path_param, query_param
from ingest.ops_schemas import (
    BulkReplayRequest,
    DeadLetterDetail,
    DeadLetterPage,
    EventDetail,
    EventPage,
    EventReplayRequest,
    ReplayRequest,
    ReplayResponse,
    StatsResponse,
)

STRING = {"type": "string"}
LIMIT = query_param("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "rows (50)")
SINCE = query_param("since", STRING, "2h, 30m, 7d or an ISO date/time")
INVALID = (422, ("invalid query or body; `errors` lists the fields", None))


def _op(method: str, path: str, summary: str, **kw: Any) -> None:
    responses = dict(kw.pop("responses"))
    responses.setdefault(*INVALID)
    document(Operation(method, path, summary, "ops", scope="ops", responses=responses, **kw))


def register_operations() -> None:
    """Register every ops operation (idempotent)."""
    _op(
        "GET",
        "/v1/ops/dead-letters",
        "List dead letters, newest first (only events still dead unless include_replayed)",
        parameters=(
            query_param("type", STRING, "event type"),
            SINCE,
            query_param("error", STRING, "error type or message contains"),
            LIMIT,
            query_param("before", {"type": "integer"}, "page: dead-letter ids below this"),
            query_param("include_replayed", {"type": "boolean"}, "also replayed ones"),
        ),
        responses={200: ("a page", DeadLetterPage)},
    )
    _op(
        "GET",
        "/v1/ops/dead-letters/{id}",
        "A dead letter: error, traceback, attempt history, replay audit",
        parameters=(path_param("id", "dead-letter id or event id"),),
        responses={200: ("the dead letter", DeadLetterDetail), 404: ("no such dead letter", None)},
    )
    _op(
        "POST",
        "/v1/ops/dead-letters/{id}/replay",
        "Replay one dead letter (audited; publishes after commit)",
        parameters=(path_param("id", "dead-letter id or event id"),),
        request=ReplayRequest,
        responses={200: ("replayed (or skipped)", ReplayResponse), 404: ("not found", None)},
    )
    _op(
        "POST",
        "/v1/ops/dead-letters/replay",
        "Replay dead letters by ids, filter or all; dry_run reports counts by type",
        request=BulkReplayRequest,
        responses={200: ("what was (or would be) replayed", ReplayResponse)},
    )
    _op(
        "GET",
        "/v1/ops/events",
        "List stored events, newest first",
        parameters=(
            query_param("status", STRING, "received, queued, ..., dead"),
            query_param("type", STRING, "event type"),
            SINCE,
            query_param("source", STRING, "webhook, backfill, ..."),
            LIMIT,
            query_param("cursor", STRING, "next_cursor of the previous page"),
        ),
        responses={200: ("a page", EventPage)},
    )
    _op(
        "GET",
        "/v1/ops/events/{event_id}",
        "An event: lifecycle, payload summary, attempts, replays",
        parameters=(path_param("event_id", "Stripe event id"),),
        responses={200: ("the event", EventDetail), 404: ("no such event", None)},
    )
    _op(
        "POST",
        "/v1/ops/events/{event_id}/replay",
        "Re-run an event; force re-runs processed/ignored ones (ordering-safe)",
        parameters=(path_param("event_id", "Stripe event id"),),
        request=EventReplayRequest,
        responses={
            200: ("re-queued", ReplayResponse),
            404: ("no such event", None),
            409: ("not replayable in its status (use force, or it is in flight)", None),
        },
    )
    _op(
        "GET",
        "/v1/ops/stats",
        "Counts by status and type, backlog, oldest unprocessed age, dead letters",
        responses={200: ("a snapshot", StatsResponse)},
    )
