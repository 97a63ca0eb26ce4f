"""The fake Stripe's list endpoints (`GET /v1/customers`, ...) and the retrieves reconcile uses.

Stripe's list semantics, as far as reconcile relies on them: newest first (by `created`,
then id), `created[gte|lte]`, `starting_after`, `limit`, `has_more`; deleted customers,
products and prices are left out; subscriptions leave canceled ones out unless
`status=all`; payment methods are listed per customer (`customer=` is required).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.fake_stripe_store import Obj, ObjectStore, Route, invalid, missing, route

Keep = Callable[[Obj, Obj], bool]  # (object, query) -> listed


def _live(obj: Obj, p: Obj) -> bool:
    return obj.get("deleted") is not True


def _subscription(obj: Obj, p: Obj) -> bool:
    wanted = p.get("status")
    if wanted == "all":
        return True
    if wanted:
        return bool(obj.get("status") == wanted)
    return obj.get("status") != "canceled"


def _of_customer(obj: Obj, p: Obj) -> bool:
    return bool(obj.get("customer") == p.get("customer"))


# path -> (object type, which objects it lists)
LISTS: dict[str, tuple[str, Keep]] = {
    "/v1/customers": ("customer", _live),
    "/v1/subscriptions": ("subscription", _subscription),
    "/v1/invoices": ("invoice", _live),
    "/v1/payment_methods": ("payment_method", _of_customer),
    "/v1/products": ("product", _live),
    "/v1/prices": ("price", _live),
    "/v1/coupons": ("coupon", _live),
    "/v1/credit_notes": ("credit_note", _live),
}
RETRIEVES = {
    "invoices": "invoice",
    "products": "product",
    "prices": "price",
    "coupons": "coupon",
    "credit_notes": "credit_note",
}


def _int(value: Any) -> int | None:
    return int(value) if value not in (None, "") else None


class ListResources:
    """List endpoints over the object store, and a few retrieves the other modules lack."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.list_calls: list[tuple[str, Obj]] = []

    def routes(self) -> list[Route]:
        lists = [route("GET", path, self._lister(path)) for path in LISTS]
        gets = [
            route("GET", rf"/v1/{plural}/(\w+)", self._getter(kind))
            for plural, kind in RETRIEVES.items()
        ]
        return [*lists, *gets]

    def _lister(self, path: str) -> Callable[[Obj], Obj]:
        return lambda p: self.list(path, p)

    def _getter(self, kind: str) -> Callable[[Obj, str], Obj]:
        return lambda p, object_id: self.store.get(object_id, kind)

    def list(self, path: str, p: Obj) -> Obj:
        """One page, newest first."""
        self.list_calls.append((path, p))
        kind, keep = LISTS[path]
        if kind == "payment_method" and not p.get("customer"):
            raise invalid("customer is required", "parameter_missing", param="customer")
        raw_created = p.get("created")
        created: Obj = raw_created if isinstance(raw_created, dict) else {}
        gte, lte = _int(created.get("gte")), _int(created.get("lte"))
        found = [
            o
            for o in self.store.objects.values()
            if o.get("object") == kind
            and keep(o, p)
            and (gte is None or o.get("created", 0) >= gte)
            and (lte is None or o.get("created", 0) <= lte)
        ]
        found.sort(key=lambda o: (o.get("created", 0), o["id"]), reverse=True)
        after = p.get("starting_after")
        if after:
            ids = [o["id"] for o in found]
            if after not in ids:
                raise missing(kind, after)
            found = found[ids.index(after) + 1 :]
        limit = max(1, min(100, _int(p.get("limit")) or 10))
        return {
            "object": "list",
            "url": path,
            "has_more": len(found) > limit,
            "data": [dict(o) for o in found[:limit]],
        }
