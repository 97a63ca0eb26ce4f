"""Typed, frozen views of customers and payment methods, parsed at the edge."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.mirror.stripe_json import child, currency, list_data, opt_int, opt_str, ref_id, sub
from domain.mirror.views import ViewError


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


def parse_customer(obj: dict[str, Any]) -> CustomerView:
    """Parse a customer object (also the payload of customer.deleted)."""
    cid = opt_str(obj.get("id"))
    if cid is None:
        raise ViewError("customer without an id")
    meta = child(obj, "metadata")
    address = child(obj, "address")
    country = opt_str(address.get("country"))
    return CustomerView(
        id=cid,
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


@dataclass(frozen=True, slots=True)
class PaymentMethodView:
    """A payment method: card brand/last4/expiry, or SEPA / iDEAL bank details."""

    id: str
    customer_id: str | None
    type: str
    card_brand: str | None
    card_last4: str | None
    card_exp_month: int | None
    card_exp_year: int | None
    bank_code: str | None
    bank_last4: str | None
    bank_country: str | None
    ideal_bank: str | None
    ideal_bic: str | None
    raw: dict[str, Any] = field(repr=False)


def parse_payment_method(obj: dict[str, Any]) -> PaymentMethodView:
    """Parse a payment_method object."""
    pmid = opt_str(obj.get("id"))
    if pmid is None:
        raise ViewError("payment method without an id")
    card = child(obj, "card")
    sepa = child(obj, "sepa_debit")
    ideal = child(obj, "ideal")
    return PaymentMethodView(
        id=pmid,
        customer_id=ref_id(obj.get("customer")),
        type=opt_str(obj.get("type")) or "unknown",
        card_brand=opt_str(card.get("brand")),
        card_last4=opt_str(card.get("last4")),
        card_exp_month=opt_int(card.get("exp_month")),
        card_exp_year=opt_int(card.get("exp_year")),
        bank_code=opt_str(sepa.get("bank_code")),
        bank_last4=opt_str(sepa.get("last4")),
        bank_country=opt_str(sepa.get("country")),
        ideal_bank=opt_str(ideal.get("bank")),
        ideal_bic=opt_str(ideal.get("bic")),
        raw=obj,
    )
