"""Read side of ops: paginated lists and detailed views of dead letters and events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import and_, or_, select

from domain.event_log import DEAD, EVENTS, Executor
from domain.input_types import INT32_MAX, ascii_int, is_ident
from domain.models import EventStatus
from domain.ops.attempts import attempt_history
from domain.ops.audit import audits_for_event
from domain.ops.filters import DeadLetterFilter, EventFilter

_DEAD_COLUMNS = (
    DEAD.c.id,
    DEAD.c.event_id,
    EVENTS.c.type,
    EVENTS.c.status,
    DEAD.c.failed_at,
    DEAD.c.attempts,
    DEAD.c.error_type,
    DEAD.c.error_message,
    DEAD.c.replay_count,
    DEAD.c.last_replayed_at,
    DEAD.c.last_replayed_by,
)
_IN_CHUNK = 1000
_EVENT_COLUMNS = tuple(c for c in EVENTS.c if c.name not in {"raw_body", "lease_token"})


def list_dead_letters(
    bind: Executor,
    flt: DeadLetterFilter,
    *,
    limit: int = 50,
    before_id: int | None = None,
    include_replayed: bool = False,
) -> list[dict[str, Any]]:
    """Dead letters newest first; by default only events that are still dead."""
    stmt = select(*_DEAD_COLUMNS).join_from(DEAD, EVENTS, DEAD.c.event_id == EVENTS.c.event_id)
    terms = flt.conditions()
    if not include_replayed:
        terms.append(EVENTS.c.status == EventStatus.DEAD)
    if before_id is not None:
        terms.append(DEAD.c.id < before_id)
    rows = bind.execute(stmt.where(*terms).order_by(DEAD.c.id.desc()).limit(limit)).mappings()
    return [_short_error(dict(r)) for r in rows]


def _short_error(row: dict[str, Any]) -> dict[str, Any]:
    row["error_message"] = row["error_message"][:300]
    return row


def resolve_dead_letter(bind: Executor, ref: str) -> str | None:
    """The event id of a dead letter given by its numeric id or by its event id.

    A ref of ASCII digits is a dead-letter id (None past the column's range); anything else
    is an event id (None when no event id could be it, e.g. it holds a NUL).
    """
    if ref.isascii() and ref.isdigit():
        number = ascii_int(ref, INT32_MAX)
        if number is None:
            return None
        cond = DEAD.c.id == number
    elif is_ident(ref):
        cond = DEAD.c.event_id == ref
    else:
        return None
    return bind.execute(select(DEAD.c.event_id).where(cond)).scalar_one_or_none()


def resolve_dead_letters(bind: Executor, refs: Sequence[str]) -> dict[str, str | None]:
    """`resolve_dead_letter` for many refs at once: a query per 1,000, not one per ref."""
    numbers: dict[int, str] = {}
    event_ids: list[str] = []
    for ref in refs:
        if ref.isascii() and ref.isdigit():
            number = ascii_int(ref, INT32_MAX)
            if number is not None:
                numbers[number] = ref
        elif is_ident(ref):
            event_ids.append(ref)
    found: dict[str, str | None] = dict.fromkeys(refs)
    for start in range(0, len(event_ids), _IN_CHUNK):
        chunk = event_ids[start : start + _IN_CHUNK]
        rows = bind.execute(select(DEAD.c.event_id).where(DEAD.c.event_id.in_(chunk)))
        found.update({e: e for (e,) in rows})
    ids = list(numbers)
    for start in range(0, len(ids), _IN_CHUNK):
        some = ids[start : start + _IN_CHUNK]
        pairs = bind.execute(select(DEAD.c.id, DEAD.c.event_id).where(DEAD.c.id.in_(some)))
        found.update({numbers[i]: e for i, e in pairs})
    return found


def get_dead_letter(bind: Executor, ref: str) -> dict[str, Any] | None:
    """A dead letter with its traceback, event summary, attempt history and replay audit."""
    event_id = resolve_dead_letter(bind, ref)
    if event_id is None:
        return None
    row = (
        bind.execute(
            select(*_DEAD_COLUMNS, DEAD.c.traceback)
            .join_from(DEAD, EVENTS, DEAD.c.event_id == EVENTS.c.event_id)
            .where(DEAD.c.event_id == event_id)
        )
        .mappings()
        .one()
    )
    detail = dict(row)
    detail["event"] = get_event(bind, event_id, with_history=False)
    detail["attempt_history"] = attempt_history(bind, event_id)
    detail["replays"] = audits_for_event(bind, event_id)
    return detail


def list_events(
    bind: Executor,
    flt: EventFilter,
    *,
    limit: int = 50,
    before: tuple[datetime, str] | None = None,
) -> list[dict[str, Any]]:
    """Events newest first (by received_at, then id), keyset-paginated by `before`."""
    c = EVENTS.c
    terms = flt.conditions()
    if before is not None:
        at, event_id = before
        terms.append(or_(c.received_at < at, and_(c.received_at == at, c.event_id < event_id)))
    rows = bind.execute(
        select(*_EVENT_COLUMNS)
        .where(*terms)
        .order_by(c.received_at.desc(), c.event_id.desc())
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows]


def get_event(bind: Executor, event_id: str, *, with_history: bool = True) -> dict[str, Any] | None:
    """An event's lifecycle columns, a payload summary (no payload), history and replays."""
    row = (
        bind.execute(
            select(*_EVENT_COLUMNS, EVENTS.c.raw_body).where(EVENTS.c.event_id == event_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    detail = {k: v for k, v in row.items() if k != "raw_body"}
    detail["payload_summary"] = payload_summary(row["raw_body"])
    if with_history:
        dead = (
            bind.execute(
                select(DEAD.c.id, DEAD.c.failed_at, DEAD.c.error_type, DEAD.c.replay_count).where(
                    DEAD.c.event_id == event_id
                )
            )
            .mappings()
            .first()
        )
        detail["dead_letter"] = dict(dead) if dead else None
        detail["attempt_history"] = attempt_history(bind, event_id)
        detail["replays"] = audits_for_event(bind, event_id)
    return detail


def payload_summary(raw: str) -> dict[str, Any]:
    """Ids and statuses only: enough to recognise an event without showing personal data.

    Any stored body is summarised, whatever its shape: `data` may be null, a string or a list
    (an event stored by a backfill or a thin event), and then there is no object to show.
    """
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"bytes": len(raw)}
    data = _mapping(_mapping(doc).get("data"))
    obj = _mapping(data.get("object"))
    summary: dict[str, Any] = {
        "bytes": len(raw),
        "object": _scalar(obj.get("object")),
        "id": _scalar(obj.get("id")),
    }
    for key in ("status", "customer", "subscription", "livemode"):
        value = obj.get(key)
        if isinstance(value, str | bool):
            summary[key] = value
    previous = data.get("previous_attributes")
    if isinstance(previous, dict):
        summary["changed_fields"] = sorted(previous)
    return summary


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _scalar(value: object) -> str | None:
    # Ids and object names are strings; anything else in the payload is not shown.
    return value if isinstance(value, str) else None
