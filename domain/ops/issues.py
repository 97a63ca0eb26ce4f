"""Dead letters grouped into issues: (event type, error type, normalised message).

`normalise` is pure: ids, uuids, hex and numbers become placeholders, so "no price
price_1Ab for evt_9" and "no price price_2Cd for evt_7" are one issue.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from domain.event_log import DEAD, EVENTS, Executor
from domain.models import EventStatus

MAX_MESSAGE = 300
# How many of the newest dead letters the grouping reads (a console page, not a report).
SCAN_LIMIT = 10_000

_UUID = re.compile(r"\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b")
# A Stripe or our own id: lowercase prefix(es), underscore, a random part with a digit/capital.
_ID = re.compile(r"\b[a-z]+(?:_[a-z]+)*_(?=[A-Za-z0-9]*[0-9A-Z])[A-Za-z0-9]+\b")
# 0x... or 8+ hex digits mixing digits and letters (a hash, an address), not a plain word.
_HEX = re.compile(
    r"\b(?:0x[0-9a-fA-F]+|(?=[0-9a-fA-F]*[0-9])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,})\b"
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SPACES = re.compile(r"\s+")


def normalise(message: str) -> str:
    """The message with ids, uuids, hex strings and numbers replaced by placeholders."""
    text = _UUID.sub("<uuid>", message)
    text = _ID.sub("<id>", text)
    text = _HEX.sub("<hex>", text)
    text = _NUMBER.sub("<n>", text)
    return _SPACES.sub(" ", text).strip()[:MAX_MESSAGE]


def group_key(event_type: str, error_type: str, message: str) -> str:
    """A short stable id of a group, for URLs."""
    raw = "\x00".join((event_type, error_type, message)).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass
class Issue:
    """One group of dead letters that are dead now."""

    key: str
    event_type: str
    error_type: str
    message: str
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    sample_id: int | None = None
    event_ids: list[str] = field(default_factory=list)


def group(rows: list[dict[str, Any]]) -> list[Issue]:
    """Group dead-letter rows (newest first) into issues, biggest first."""
    issues: dict[str, Issue] = {}
    for row in rows:
        message = normalise(row["error_message"] or "")
        key = group_key(row["type"], row["error_type"], message)
        issue = issues.get(key)
        if issue is None:
            issue = issues[key] = Issue(key, row["type"], row["error_type"], message)
            issue.sample_id = row["id"]  # the newest one: rows come newest first
        issue.count += 1
        issue.event_ids.append(row["event_id"])
        at = row["failed_at"]
        issue.first_seen = at if issue.first_seen is None else min(issue.first_seen, at)
        issue.last_seen = at if issue.last_seen is None else max(issue.last_seen, at)
    return sorted(issues.values(), key=lambda i: (-i.count, i.event_type, i.key))


def dead_issues(bind: Executor, limit: int = SCAN_LIMIT) -> list[Issue]:
    """Issues over the newest `limit` dead letters whose event is still dead."""
    rows = bind.execute(
        select(
            DEAD.c.id,
            DEAD.c.event_id,
            EVENTS.c.type,
            DEAD.c.error_type,
            DEAD.c.error_message,
            DEAD.c.failed_at,
        )
        .join_from(DEAD, EVENTS, DEAD.c.event_id == EVENTS.c.event_id)
        .where(EVENTS.c.status == EventStatus.DEAD)
        .order_by(DEAD.c.id.desc())
        .limit(limit)
    ).mappings()
    return group([dict(r) for r in rows])


def find_issue(bind: Executor, key: str) -> Issue | None:
    """The issue with this key, as it is now (None once nothing in it is dead)."""
    return next((i for i in dead_issues(bind) if i.key == key), None)


def sample_traceback(bind: Executor, dead_letter_id: int) -> str | None:
    """The stored (already scrubbed) traceback of one dead letter."""
    return bind.execute(
        select(DEAD.c.traceback).where(DEAD.c.id == dead_letter_id)
    ).scalar_one_or_none()
