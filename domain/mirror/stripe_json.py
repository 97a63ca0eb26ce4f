"""Tolerant readers for Stripe JSON fields (expanded or not, missing or null)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

# The first API version that moved periods onto items and invoice links under `parent`.
BASIL = "2025-03-31"


class ApiShape(StrEnum):
    """Which generation of Stripe's object shapes a payload uses."""

    LEGACY = "pre-2025"
    CURRENT = "current"


def shape_from_version(api_version: str | None) -> ApiShape:
    """The shape implied by an event's api_version (dates compare as strings)."""
    if api_version and api_version[:10] < BASIL:
        return ApiShape.LEGACY
    return ApiShape.CURRENT


def opt_str(value: Any) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def opt_int(value: Any) -> int | None:
    """An integer (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def ref_id(value: Any) -> str | None:
    """The id of a reference that may be a bare id or an expanded object."""
    if isinstance(value, dict):
        return opt_str(value.get("id"))
    return opt_str(value)


def ts(value: Any) -> datetime | None:
    """A Stripe unix timestamp as an aware UTC datetime."""
    seconds = opt_int(value)
    return datetime.fromtimestamp(seconds, UTC) if seconds is not None else None


def sub(obj: Any, *path: str) -> Any:
    """obj[path[0]][path[1]]... or None when any step is missing or not an object."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def list_data(value: Any) -> list[dict[str, Any]]:
    """The `data` of a Stripe list object (or a plain list), dicts only."""
    items = value.get("data") if isinstance(value, dict) else value
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def currency(value: Any) -> str | None:
    """An ISO currency code, lower-cased as Stripe sends it."""
    code = opt_str(value)
    return code.lower() if code and len(code) == 3 else None


def child(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """obj[key] when it is an object, else an empty dict."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


class ViewError(ValueError):
    """The object lacks what the mirror needs (e.g. no id); the event cannot be applied."""


def require_id(obj: dict[str, Any], kind: str) -> str:
    """The object's id; ViewError when it has none."""
    obj_id = opt_str(obj.get("id"))
    if obj_id is None:
        raise ViewError(f"{kind} without an id")
    return obj_id


E = TypeVar("E", bound=StrEnum)


def enum_or_none(cls: type[E], value: Any) -> E | None:
    """The enum member for `value`, None when it is missing or not one Stripe documents."""
    try:
        return cls(value) if value is not None else None
    except ValueError:
        return None
