"""The fake Stripe's customers, their tax ids and payment methods, and SetupIntents."""

from __future__ import annotations

import re

from domain.samples import example_object, new_id
from tests.support.fake_stripe_store import (
    Obj,
    ObjectStore,
    Route,
    StripeHTTPError,
    invalid,
    missing,
    route,
)

# The subset of Stripe's search query language we use: `field:'value'` or
# `metadata['key']:'value'` clauses joined by AND.
_CLAUSE = re.compile(r"\s*(?:metadata\['([^']+)'\]|(\w+)):'((?:[^'\\]|\\.)*)'\s*")


def _search_terms(query: str) -> list[tuple[str, str | None, str]]:
    """(field, metadata key, value) per clause; 400 like Stripe for what we do not parse."""
    terms = []
    for clause in re.split(r"\s+AND\s+", query.strip()):
        match = _CLAUSE.fullmatch(clause)
        if match is None:
            raise invalid(f"Invalid search query: {query!r}", "search_query_invalid")
        key, field, value = match.groups()
        terms.append(("metadata" if key else field, key, value.replace("\\'", "'")))
    return terms


# Stricter than our own check, as Stripe's is: no empty or doubled dots in the local part.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[^@\s]+"
)


def _check_email(p: Obj) -> None:
    email = p.get("email")
    if email and _EMAIL.fullmatch(str(email)) is None:
        # Stripe's own wording, which echoes the address back.
        raise invalid(f"Invalid email address: {email}", "email_invalid", param="email")


def search_not_in_region() -> StripeHTTPError:
    """What Stripe answers where Customer Search is not offered (e.g. accounts in India)."""
    return invalid("Search is not available for accounts in your region.")


def search_not_found() -> StripeHTTPError:
    """The search endpoint unknown to the account (404), as for a feature it lacks."""
    return StripeHTTPError(
        404, "invalid_request_error", "Unrecognized request URL (GET: /v1/customers/search)."
    )


def search_forbidden() -> StripeHTTPError:
    """A restricted key without read access to customers."""
    return StripeHTTPError(
        403,
        "permission_error",
        "The provided key does not have the required permissions for this endpoint.",
    )


class CustomerResources:
    """Customers, tax ids, payment methods and SetupIntents over the shared store."""

    def __init__(self, store: ObjectStore, search_lag_seconds: float = 60.0) -> None:
        self.store = store
        # Stripe's search index trails writes ("usually under a minute"): a customer created
        # moments ago is not found yet, so retries must not depend on search.
        self.search_lag_seconds = search_lag_seconds
        # Set to one of the `search_*` errors above: every search answers it.
        self.search_error: StripeHTTPError | None = None

    def routes(self) -> list[Route]:
        # /search before /{id}: "search" is a valid id pattern too.
        return [
            route("GET", r"/v1/customers/search", self.search_customers),
            route("POST", r"/v1/customers", self.create_customer),
            route("GET", r"/v1/customers/(\w+)", self.get_customer),
            route("POST", r"/v1/customers/(\w+)", self.update_customer),
            route("GET", r"/v1/customers/(\w+)/tax_ids", self.list_tax_ids),
            route("POST", r"/v1/customers/(\w+)/tax_ids", self.create_tax_id),
            route("DELETE", r"/v1/customers/(\w+)/tax_ids/(\w+)", self.delete_tax_id),
            route("GET", r"/v1/payment_methods/(\w+)", self.get_payment_method),
            route("POST", r"/v1/payment_methods/(\w+)/attach", self.attach),
            route("POST", r"/v1/payment_methods/(\w+)/detach", self.detach),
            route("POST", r"/v1/setup_intents", self.create_setup_intent),
        ]

    # --- customers -----------------------------------------------------------------------

    def create_customer(self, p: Obj) -> Obj:
        _check_email(p)
        customer = self.store.new(
            "customer",
            "cus",
            email=p.get("email"),
            name=p.get("name"),
            metadata=p.get("metadata", {}),
            address=None,
            invoice_settings={
                "default_payment_method": None,
                "custom_fields": None,
                "footer": None,
                "rendering_options": None,
            },
        )
        self.store.emit("customer.created", dict(customer), None)
        return customer

    def get_customer(self, p: Obj, customer_id: str) -> Obj:
        return self.store.get(customer_id, "customer")

    def update_customer(self, p: Obj, customer_id: str) -> Obj:
        customer = self.store.get(customer_id, "customer")
        _check_email(p)
        previous = {k: customer.get(k) for k in p}
        for field in ("name", "email", "address"):
            if field in p:
                customer[field] = p[field]
        customer["metadata"] = {**(customer.get("metadata") or {}), **p.get("metadata", {})}
        default = (p.get("invoice_settings") or {}).get("default_payment_method")
        if default is not None:
            self.store.get(default, "payment_method")
            customer["invoice_settings"]["default_payment_method"] = default
        self.store.emit("customer.updated", dict(customer), previous)
        return customer

    def search_customers(self, p: Obj) -> Obj:
        """`GET /v1/customers/search?query=...`: customers old enough to be indexed."""
        if self.search_error is not None:
            raise self.search_error
        terms = _search_terms(str(p.get("query", "")))
        indexed_before = self.store.clock.time() - self.search_lag_seconds

        def matches(customer: Obj) -> bool:
            if customer["created"] > indexed_before:
                return False
            for field, key, value in terms:
                actual = (customer.get("metadata") or {}).get(key) if key else customer.get(field)
                if actual != value:
                    return False
            return not customer.get("deleted")

        data = [
            o for o in self.store.objects.values() if o.get("object") == "customer" and matches(o)
        ]
        limit = max(1, min(100, int(p.get("limit", 10))))
        return {
            "object": "search_result",
            "url": "/v1/customers/search",
            "data": data[:limit],
            "has_more": len(data) > limit,
            "next_page": None,
        }

    # --- tax ids -------------------------------------------------------------------------

    def list_tax_ids(self, p: Obj, customer_id: str) -> Obj:
        self.store.get(customer_id, "customer")
        data = [
            o
            for o in self.store.objects.values()
            if o.get("object") == "tax_id" and o.get("customer") == customer_id
        ]
        return {"object": "list", "data": data, "has_more": False}

    def create_tax_id(self, p: Obj, customer_id: str) -> Obj:
        self.store.get(customer_id, "customer")
        value = str(p.get("value", ""))
        # Well-formed but all-zero numbers stand in for the ones real Stripe refuses.
        if p.get("type") != "eu_vat" or set(re.sub(r"\D", "", value)) <= {"0"}:
            raise invalid("Invalid value for eu_vat.", "tax_id_invalid", param="value")
        return self.store.new(
            "tax_id", "txi", customer=customer_id, type="eu_vat", value=p["value"]
        )

    def delete_tax_id(self, p: Obj, customer_id: str, tax_id: str) -> Obj:
        self.store.get(tax_id, "tax_id")
        del self.store.objects[tax_id]
        return {"id": tax_id, "object": "tax_id", "deleted": True}

    # --- payment methods -----------------------------------------------------------------

    def get_payment_method(self, p: Obj, pm_id: str) -> Obj:
        pm = self.store.objects.get(pm_id)
        if pm is None:
            raise missing("payment_method", pm_id)
        return pm

    def attach(self, p: Obj, pm_id: str) -> Obj:
        customer = self.store.get(p.get("customer", ""), "customer")
        if "chargeDeclined" in pm_id:
            decline = "insufficient_funds" if "InsufficientFunds" in pm_id else "generic_decline"
            raise StripeHTTPError(
                402,
                "card_error",
                "Your card was declined.",
                "card_declined",
                decline_code=decline,
                param="",
            )
        pm = self.store.objects.get(pm_id) or self._adopt_payment_method(pm_id)
        pm["customer"] = customer["id"]
        self.store.emit("payment_method.attached", dict(pm), None)
        return pm

    def _adopt_payment_method(self, pm_id: str) -> Obj:
        # Stripe's test tokens (pm_card_visa, ...) exist without being created first.
        pm = example_object("payment_method")
        pm.update(id=pm_id, created=self.store.clock.now(), customer=None, type="card")
        self.store.objects[pm_id] = pm
        self.store.created["payment_method"] += 1
        return pm

    def detach(self, p: Obj, pm_id: str) -> Obj:
        pm = self.get_payment_method(p, pm_id)
        previous = {"customer": pm.get("customer")}
        pm["customer"] = None
        self.store.emit("payment_method.detached", dict(pm), previous)
        return pm

    def create_setup_intent(self, p: Obj) -> Obj:
        self.store.get(p.get("customer", ""), "customer")
        intent = self.store.new(
            "setup_intent",
            "seti",
            customer=p["customer"],
            payment_method_types=p.get("payment_method_types", ["card"]),
            usage=p.get("usage", "off_session"),
            status="requires_payment_method",
            metadata=p.get("metadata", {}),
        )
        intent["client_secret"] = f"{intent['id']}_secret_{new_id('x')[2:]}"
        return intent
