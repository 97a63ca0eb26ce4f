"""What payment intents and charges share: telling the API shapes apart, and failures.

Before API 2025-03-31 ("basil") a payment intent and a charge name their `invoice`; from
then on they have no such field and `invoice_payment` objects link invoices to payments.
The payload decides (an `invoice` key, even null, is the older shape); `api_version` only
when the key is absent from both (a current payload never has it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.mirror.stripe_json import ApiShape, child, opt_str, shape_from_version

MAX_MESSAGE = 2000  # failure messages are Stripe's sentences; a longer one is cut
STATUS_LENGTH, CODE_LENGTH, NAME_LENGTH = 32, 255, 64  # the tables' column lengths


def short(value: Any, length: int) -> str | None:
    """A non-empty string cut to its column's length: Stripe's enums are short, but a value
    it adds later (or a hostile payload) must not make the event undeliverable."""
    text = opt_str(value)
    return text[:length] if text else None


def payment_shape(obj: dict[str, Any], api_version: str | None) -> ApiShape:
    """`invoice` present (even null): pre-2025; absent: the event's API version decides."""
    if "invoice" in obj:
        return ApiShape.LEGACY
    return shape_from_version(api_version)


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an attempt failed: Stripe's code and message, never the card holder's details."""

    code: str | None = None
    message: str | None = None


def intent_failure(obj: dict[str, Any]) -> Failure:
    """A payment intent's `last_payment_error` (its code, else the decline code)."""
    error = child(obj, "last_payment_error")
    message = opt_str(error.get("message"))
    code = short(error.get("code"), CODE_LENGTH) or short(error.get("decline_code"), CODE_LENGTH)
    if code is None and message is None:
        code = short(error.get("type"), CODE_LENGTH)  # an error with only its type failed
    return Failure(code, message[:MAX_MESSAGE] if message else None)


def charge_failure(obj: dict[str, Any]) -> Failure:
    """A charge's `failure_code` and `failure_message`."""
    message = opt_str(obj.get("failure_message"))
    code = short(obj.get("failure_code"), CODE_LENGTH)
    return Failure(code, message[:MAX_MESSAGE] if message else None)


def intent_method_type(obj: dict[str, Any]) -> str | None:
    """The payment method's type: expanded method, the error's method, or the only type."""
    for method in (
        obj.get("payment_method"),
        child(obj, "last_payment_error").get("payment_method"),
    ):
        if isinstance(method, dict) and opt_str(method.get("type")):
            return short(method.get("type"), NAME_LENGTH)
    types = obj.get("payment_method_types")
    if isinstance(types, list) and len(types) == 1:
        return short(types[0], NAME_LENGTH)
    return None


def charge_method_type(obj: dict[str, Any]) -> str | None:
    """The type of `payment_method_details` (card, sepa_debit, ideal, ...)."""
    return short(child(obj, "payment_method_details").get("type"), NAME_LENGTH)
