"""Stripe objects of the sources group (legacy cards and sources, mandates, setup intents).

They start from Stripe's published examples (fixtures3.json). These objects did not change
shape in the 2025-03-31 (basil) upgrade; to exercise the tolerant readers anyway, the
pre-2025 variants use the other valid forms of the same fields: references expanded into
objects, and a failed setup intent still naming its payment method at the top level.
"""

from __future__ import annotations

from typing import Any

from domain.mirror.stripe_json import ApiShape
from domain.samples import example_object


def card(
    card_id: str,
    customer: str | None,
    *,
    exp_month: int = 8,
    exp_year: int = 2030,
    shape: ApiShape = ApiShape.CURRENT,
) -> dict[str, Any]:
    """A legacy card saved on a customer (its cardholder's name and address filled in)."""
    obj = example_object("card")
    obj.update(
        id=card_id,
        exp_month=exp_month,
        exp_year=exp_year,
        address_line1="Damrak 1",
        address_city="Amsterdam",
        address_zip="1012 LG",
        address_country="NL",
    )
    # The customer expanded (valid in either shape); the id is all the mirror keeps.
    obj["customer"] = (
        {"id": customer, "object": "customer"}
        if (customer and shape is ApiShape.LEGACY)
        else customer
    )
    return obj


def source(
    src_id: str,
    customer: str | None,
    *,
    kind: str = "card",
    status: str = "chargeable",
) -> dict[str, Any]:
    """A source of type card or sepa_debit (its owner's name and email filled in)."""
    obj = example_object("source")
    obj.pop("ach_credit_transfer", None)
    obj.pop("receiver", None)
    obj.update(id=src_id, type=kind, status=status, flow="none", usage="reusable")
    obj["owner"]["name"] = "Jenny Rosen"
    if customer is not None:
        obj["customer"] = customer
    if kind == "card":
        obj["card"] = {
            "brand": "MasterCard",
            "last4": "4444",
            "exp_month": 12,
            "exp_year": 2031,
            "country": "NL",
            "funding": "credit",
            "three_d_secure": "optional",
        }
    elif kind == "sepa_debit":
        obj["sepa_debit"] = {
            "bank_code": "INGB",
            "country": "NL",
            "last4": "3000",
            "fingerprint": "fp",
            "mandate_reference": "REF123",
            "mandate_url": "https://hooks.stripe.com/adapter/sepa_debit/file/src_x",
        }
    return obj


def mandate(
    mandate_id: str,
    payment_method: str,
    status: str,
    *,
    accepted_at: int = 1_700_000_000,
    shape: ApiShape = ApiShape.CURRENT,
    reference: str = "REF-1",
) -> dict[str, Any]:
    """A multi-use SEPA debit mandate of `payment_method`."""
    obj = example_object("mandate")
    obj.update(id=mandate_id, status=status)
    obj["payment_method"] = (
        {"id": payment_method, "object": "payment_method"}
        if shape is ApiShape.LEGACY
        else payment_method
    )
    obj["customer_acceptance"]["accepted_at"] = accepted_at
    obj["payment_method_details"] = {
        "type": "sepa_debit",
        "sepa_debit": {"reference": reference, "url": "https://pay.stripe.com/mandate/x"},
    }
    return obj


def setup_intent(
    seti_id: str,
    customer: str | None,
    status: str,
    *,
    payment_method: str | None = "pm_seti",
    error: str | None = None,
    decline_code: str | None = None,
    mandate: str | None = None,
    created: int = 1_700_000_000,
    shape: ApiShape = ApiShape.CURRENT,
) -> dict[str, Any]:
    """A setup intent; with `error`, the failed one (Stripe clears its payment_method and
    names the failed method, whole, under last_setup_error)."""
    obj = example_object("setup_intent")
    obj.update(
        id=seti_id,
        customer=customer,
        status=status,
        created=created,
        mandate=mandate,
        next_action=None,
        payment_method=None if error else payment_method,
        last_setup_error=None,
    )
    if error:
        failed: dict[str, Any] = {
            "type": "card_error",
            "code": error,
            "decline_code": decline_code,
            "message": "Your card was declined.",
        }
        if shape is ApiShape.CURRENT and payment_method:
            failed["payment_method"] = {
                "id": payment_method,
                "object": "payment_method",
                "billing_details": {"name": "Jenny Rosen", "email": "jenny@example.com"},
                "type": "card",
            }
        elif payment_method:
            obj["payment_method"] = payment_method
        obj["last_setup_error"] = failed
    return obj
