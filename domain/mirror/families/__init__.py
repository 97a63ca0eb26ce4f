"""The Stripe object families the mirror follows, and the one dispatch table built from them.

Adding a family is one line in FAMILIES (see docs/families.md). REGISTRY holds one
registration (handler + batch targets) per event type; event types no family declares are
stored and marked `ignored`. ADDED holds the related fields families give other bodies
(the account answer, another family's rows), by target.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain.mirror.families import (
    checkout,
    credit_grants,
    credit_notes,
    customers,
    discounts,
    entitlements,
    invoices,
    mandates,
    payment_methods,
    payments,
    prices,
    products,
    schedules,
    setup_intents,
    sources,
    subscriptions,
    tax_ids,
)
from domain.mirror.families._family import Family
from domain.mirror.families._read import Listing, Related
from domain.mirror.unit import Registration

FAMILIES: tuple[Family[Any, Any, Any], ...] = (
    checkout.FAMILY,
    credit_notes.FAMILY,
    customers.FAMILY,
    invoices.FAMILY,
    payment_methods.FAMILY,
    payments.FAMILY,
    payments.CHARGES_FAMILY,
    payments.INVOICE_PAYMENTS_FAMILY,
    payments.REFUNDS_FAMILY,
    payments.DISPUTES_FAMILY,
    subscriptions.FAMILY,
    tax_ids.FAMILY,
    discounts.COUPONS,
    discounts.PROMOTION_CODES,
    discounts.DISCOUNTS,
    schedules.FAMILY,
    products.FAMILY,
    prices.FAMILY,
    entitlements.FAMILY,
    sources.FAMILY,
    mandates.FAMILY,
    setup_intents.FAMILY,
    credit_grants.FAMILY,
)


def build_registry(families: Iterable[Family[Any, Any, Any]]) -> dict[str, Registration]:
    """event type -> its family's registration; an event type claimed twice is a bug."""
    registry: dict[str, Registration] = {}
    for family in families:
        for event_type, registration in family.registrations().items():
            if event_type in registry:
                raise ValueError(f"{event_type} is declared by two families")
            registry[event_type] = registration
    return registry


REGISTRY: dict[str, Registration] = build_registry(FAMILIES)


ACCOUNT = "account"  # the target of fields added to GET /v1/accounts/{account_ref}


def collect_added(families: Iterable[Family[Any, Any, Any]]) -> dict[str, dict[str, Related]]:
    """target -> {field: Related}, from every family's `adds`; a field added twice is a bug."""
    families = tuple(families)
    targets = {f.name for f in families if f.listing is not None} | {ACCOUNT}
    added: dict[str, dict[str, Related]] = {}
    for family in families:
        for target, fields in family.adds.items():
            if target not in targets:
                raise ValueError(f"family {family.name} adds fields to unknown body {target!r}")
            for name, related in fields.items():
                if name in added.setdefault(target, {}):
                    raise ValueError(f"{target}.{name} is added by two families")
                added[target][name] = related
    return added


ADDED: dict[str, dict[str, Related]] = collect_added(FAMILIES)


def listing_of(family: Family[Any, Any, Any]) -> Listing:
    """The family's listing with the fields other families add to its rows."""
    if family.listing is None:
        raise ValueError(f"family {family.name} declares no listing")
    return family.listing.with_related(ADDED.get(family.name, {}))
