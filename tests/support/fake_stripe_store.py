"""The fake Stripe's object store: objects by id, creation counts, Stripe-shaped errors."""

from __future__ import annotations

import collections
import re
import time
from collections.abc import Callable
from typing import Any

from domain.samples import example_object, new_id

Obj = dict[str, Any]
Emit = Callable[[str, Obj, Obj | None], None]
Route = tuple[str, re.Pattern[str], Callable[..., Obj]]
MONTH = 30 * 86400


class Clock:
    """The fake Stripe's clock: objects' and events' `created` and the responses' `Date`.

    Real time unless a test freezes or shifts it, so a test can put a webhook and a
    command's answer in the same second, or some seconds apart, deterministically.
    """

    def __init__(self) -> None:
        self.frozen: float | None = None
        self.offset = 0.0

    def time(self) -> float:
        return (time.time() if self.frozen is None else self.frozen) + self.offset

    def now(self) -> int:
        """Stripe's current second (what `created` fields and the Date header show)."""
        return int(self.time())

    def freeze(self, at: float | None = None) -> None:
        """Stop the clock (at `at`, default now); `advance` then moves it."""
        self.frozen, self.offset = (self.time() if at is None else at), 0.0

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class StripeHTTPError(Exception):
    """An error answer: status, Stripe error type, message, code and extra fields."""

    def __init__(
        self, status: int, type_: str, message: str, code: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.code, self.extra = (
            status,
            type_,
            message,
            code,
            extra,
        )


def missing(kind: str, object_id: str) -> StripeHTTPError:
    """Stripe's 404 for an unknown id."""
    return StripeHTTPError(
        404, "invalid_request_error", f"No such {kind}: '{object_id}'", "resource_missing"
    )


def invalid(message: str, code: str | None = None, **extra: Any) -> StripeHTTPError:
    """Stripe's 400 for a request it refuses."""
    return StripeHTTPError(400, "invalid_request_error", message, code, **extra)


def as_bool(value: Any) -> bool:
    """A form-encoded boolean."""
    return value in (True, "true", "True", "1")


def route(method: str, pattern: str, fn: Callable[..., Obj]) -> Route:
    """One endpoint: the path pattern's groups are passed to `fn` after the params."""
    return method, re.compile(pattern), fn


class ObjectStore:
    """Objects by id; `created` counts real creations (replays do not count)."""

    def __init__(self, emit: Emit, clock: Clock | None = None) -> None:
        self.emit = emit
        self.clock = clock or Clock()
        self.objects: dict[str, Obj] = {}
        self.created: collections.Counter[str] = collections.Counter()
        self.prices: dict[str, int] = {}
        self.metered_prices: set[str] = set()  # usage_type=metered: no quantity

    def new(self, resource: str, prefix: str, **fields: Any) -> Obj:
        """A new object from Stripe's own example of `resource`, with these fields."""
        obj = example_object(resource)
        obj.update(id=new_id(prefix), created=self.clock.now(), livemode=False, **fields)
        self.objects[obj["id"]] = obj
        self.created[resource] += 1
        return obj

    def get(self, object_id: str, kind: str) -> Obj:
        """The object with this id and `object` type, else Stripe's 404."""
        obj = self.objects.get(object_id)
        if obj is None or obj.get("object") != kind:
            raise missing(kind, object_id)
        return obj
