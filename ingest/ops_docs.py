"""OpenAPI entries of the ops API (kept apart from the handlers so each file stays small).

Query parameters are documented from the same pydantic models that validate them; the
error responses (401/403, 404, 413, 422, 500) are added by `ingest.openapi.build_document`.
"""

from __future__ import annotations

from typing import Any

from ingest.openapi import Operation, document, path_param
from ingest.ops_schemas import (
    BulkReplayRequest,
    DeadLetterDetail,
    DeadLetterPage,
    DeadLetterQuery,
    EventDetail,
    EventPage,
    EventQuery,
    EventReplayRequest,
    ReplayRequest,
    ReplayResponse,
    StatsResponse,
)

DEAD_LETTER_REF = path_param("id", "dead-letter id or event id")
EVENT_ID = path_param("event_id", "Stripe event id")


def ops_operation(method: str, path: str, summary: str, **kw: Any) -> None:
    """Register one ops operation (tag `ops`, `ops` scope; an absent body means `{}`)."""
    kw.setdefault("request_required", False)
    document(Operation(method, path, summary, "ops", scope="ops", **kw))


def register_operations() -> None:
    """Register every ops operation (idempotent)."""
    ops_operation(
        "GET",
        "/v1/ops/dead-letters",
        "List dead letters, newest first (only events still dead unless include_replayed)",
        query=DeadLetterQuery,
        responses={200: ("a page", DeadLetterPage)},
    )
    ops_operation(
        "GET",
        "/v1/ops/dead-letters/{id}",
        "A dead letter: error, traceback, attempt history, replay audit",
        parameters=(DEAD_LETTER_REF,),
        responses={200: ("the dead letter", DeadLetterDetail), 404: ("no such dead letter", None)},
    )
    ops_operation(
        "POST",
        "/v1/ops/dead-letters/{id}/replay",
        "Replay one dead letter (audited; publishes after commit)",
        parameters=(DEAD_LETTER_REF,),
        request=ReplayRequest,
        responses={200: ("replayed (or skipped)", ReplayResponse), 404: ("not found", None)},
    )
    ops_operation(
        "POST",
        "/v1/ops/dead-letters/replay",
        "Replay dead letters by ids, filter or all; dry_run reports counts by type",
        request=BulkReplayRequest,
        responses={200: ("what was (or would be) replayed", ReplayResponse)},
    )
    ops_operation(
        "GET",
        "/v1/ops/events",
        "List stored events, newest first",
        query=EventQuery,
        responses={200: ("a page", EventPage)},
    )
    ops_operation(
        "GET",
        "/v1/ops/events/{event_id}",
        "An event: lifecycle, payload summary, attempts, replays",
        parameters=(EVENT_ID,),
        responses={200: ("the event", EventDetail), 404: ("no such event", None)},
    )
    ops_operation(
        "POST",
        "/v1/ops/events/{event_id}/replay",
        "Re-run an event; force re-runs processed/ignored ones (ordering-safe)",
        parameters=(EVENT_ID,),
        request=EventReplayRequest,
        responses={
            200: ("re-queued", ReplayResponse),
            404: ("no such event", None),
            409: ("not replayable in its status (use force, or it is in flight)", None),
        },
    )
    ops_operation(
        "GET",
        "/v1/ops/stats",
        "Counts by status and type, backlog, oldest unprocessed age, dead letters",
        responses={200: ("a snapshot", StatsResponse)},
    )
