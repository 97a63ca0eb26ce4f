"""customer.* events -> the billing account's customer details, deletion and default method.

The rows are not the family's own: a customer event finds (or creates) the account linked
to its customer (`metadata.account_ref` links them, in any order) and writes the customer
details on it when newer, stamped like any other row. customer.deleted is terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from domain.credits.period import grant_batch_dues, grant_for_customer
from domain.envelope import EventEnvelope
from domain.mirror.accounts import link_account, update_account
from domain.mirror.families._family import Family, Incoming, Known, Refs, Row
from domain.mirror.families.payment_methods import default_of, sync_default_payment_method
from domain.mirror.ordering import stamp_of, tie_rank
from domain.mirror.stripe_json import child, currency, list_data, opt_str, ref_id, require_id, sub
from domain.mirror.tables import stamp_columns
from domain.mirror.unit import Unit

DELETED_EVENT = "customer.deleted"


@dataclass(frozen=True, slots=True)
class CustomerView:
    """A Stripe customer; company, VAT and KVK numbers come from metadata or tax ids."""

    id: str
    account_ref: str | None
    email: str | None
    name: str | None
    company_name: str | None
    vat_number: str | None
    kvk_number: str | None
    address_line1: str | None
    address_line2: str | None
    postal_code: str | None
    city: str | None
    state: str | None
    country: str | None
    currency: str | None
    default_payment_method_id: str | None
    raw: dict[str, Any] = field(repr=False)


def _tax_id(obj: dict[str, Any], *types: str) -> str | None:
    # `tax_ids` is only present when expanded; metadata is the product's own channel.
    for tax in list_data(obj.get("tax_ids")):
        if tax.get("type") in types:
            return opt_str(tax.get("value"))
    return None


def parse_customer(obj: dict[str, Any], api_version: str | None = None) -> CustomerView:
    """Parse a customer object (also the payload of customer.deleted; both API shapes)."""
    meta = child(obj, "metadata")
    address = child(obj, "address")
    country = opt_str(address.get("country"))
    return CustomerView(
        id=require_id(obj, "customer"),
        account_ref=opt_str(meta.get("account_ref")),
        email=opt_str(obj.get("email")),
        name=opt_str(obj.get("name")),
        company_name=opt_str(meta.get("company_name")) or opt_str(obj.get("business_name")),
        vat_number=opt_str(meta.get("vat_number")) or _tax_id(obj, "eu_vat"),
        kvk_number=opt_str(meta.get("kvk_number")) or _tax_id(obj, "nl_kvk"),
        address_line1=opt_str(address.get("line1")),
        address_line2=opt_str(address.get("line2")),
        postal_code=opt_str(address.get("postal_code")),
        city=opt_str(address.get("city")),
        state=opt_str(address.get("state")),
        country=country.upper() if country and len(country) == 2 else None,
        currency=currency(obj.get("currency")),
        default_payment_method_id=ref_id(sub(obj, "invoice_settings", "default_payment_method")),
        raw=obj,
    )


def customer_refs(view: CustomerView, event: EventEnvelope) -> Refs:
    return Refs(view.id, view.id, view.account_ref)


def customer_rank(view: CustomerView, event_type: str) -> int:
    """customer.deleted is terminal; creation comes before updates."""
    return tie_rank(
        terminal=event_type == DELETED_EVENT,
        status_rank=0,
        progress=0 if event_type == "customer.created" else 1,
    )


def customer_known(unit: Unit, view: CustomerView, refs: Refs, now: datetime) -> Known[Row | None]:
    """Find or create (and link) the customer's account; its stamp is the details' writer's."""
    grant_batch_dues(unit, now)  # the batch's earlier dues see the link as it was before
    account = link_account(unit.session, account_ref=view.account_ref, customer_id=view.id, now=now)
    if account is None:  # pragma: no cover - a customer always has an id
        return Known(None, None)
    if view.account_ref is not None:  # linked: credits its subscriptions waited for
        grant_for_customer(unit, view.id, now)
    stamp = stamp_of(
        account["last_event_created"], account["last_event_rank"], account["last_event_id"]
    )
    return Known(stamp, account)


@dataclass(frozen=True, slots=True)
class AccountChange:
    """New customer details for one account row (the link itself is not changed here)."""

    account_id: int
    customer_id: str
    values: Row


def customer_transition(view: CustomerView, incoming: Incoming[Row | None]) -> AccountChange | None:
    """The account's new customer details, or None when there is no account row."""
    account = incoming.facts
    if account is None:
        return None
    values = {
        "email": view.email,
        "name": view.name,
        "company_name": view.company_name,
        "vat_number": view.vat_number,
        "kvk_number": view.kvk_number,
        "address_line1": view.address_line1,
        "address_line2": view.address_line2,
        "postal_code": view.postal_code,
        "city": view.city,
        "state": view.state,
        "country": view.country,
        "currency": view.currency,
        "default_payment_method_id": view.default_payment_method_id,
        "deleted": incoming.type == DELETED_EVENT,
        "raw": view.raw,
        **stamp_columns(incoming.stamp),
    }
    return AccountChange(account["id"], view.id, values)


def write_customer(unit: Unit, change: AccountChange, now: datetime) -> None:
    """Write the details on the account and flag the customer's default payment method."""
    update_account(unit.session, change.account_id, change.values, now)
    default = default_of(change.values["default_payment_method_id"], change.values["raw"])
    sync_default_payment_method(unit, change.customer_id, default, now)


FAMILY = Family(
    name="customers",
    object_type="customer",
    event_types=("customer.created", "customer.updated", DELETED_EVENT),
    parse=parse_customer,
    refs=customer_refs,
    rank=customer_rank,
    transition=customer_transition,
    table=None,
    known=customer_known,
    write=write_customer,
)
