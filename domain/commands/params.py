"""Typed parameters of every command type; the request body is validated against these.

Every text field is one of the NUL-free types below (`NoNul`): params are stored as JSONB,
which refuses `\u0000`, and sent to Stripe.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from domain.commands.vat import normalise_vat, vat_problem
from domain.input_types import NoNul
from domain.plans import PlanCatalog

PaymentMethodType = Literal["card", "ideal", "sepa_debit", "bancontact"]
Interval = Literal["month", "year", "week", "day"]
Proration = Literal["create_prorations", "none", "always_invoice"]
PaymentMethodId = Annotated[str, Field(pattern=r"^pm_[A-Za-z0-9_]+$", max_length=255), NoNul]
SubscriptionId = Annotated[str, Field(pattern=r"^sub_[A-Za-z0-9_]+$", max_length=255), NoNul]
Email = Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=512), NoNul]
Text = Annotated[str, Field(min_length=1, max_length=255), NoNul]
PostalCode = Annotated[str, Field(min_length=1, max_length=64), NoNul]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$"), NoNul]
VatNumber = Annotated[str, Field(max_length=32), NoNul]
KvkNumber = Annotated[str, Field(pattern=r"^[0-9]{8}$"), NoNul]


def _card_and_ideal() -> list[PaymentMethodType]:
    return ["card", "ideal"]


def _card() -> list[PaymentMethodType]:
    return ["card"]


class Params(BaseModel):
    """Base of every parameter model: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _catalog(info: ValidationInfo) -> PlanCatalog | None:
    catalog = (info.context or {}).get("catalog")
    return catalog if isinstance(catalog, PlanCatalog) else None


class PlanChoice(Params):
    """A tier and interval that must exist in the plan catalog (given as validation context).

    Checked per field, so a 422 names the field that is wrong: an unknown tier, or a known
    tier not sold per this interval.
    """

    tier: Text
    interval: Interval

    @field_validator("tier")
    @classmethod
    def _tier_sold(cls, tier: str, info: ValidationInfo) -> str:
        catalog = _catalog(info)
        if catalog is not None and not any(p.tier == tier for p in catalog.plans):
            raise ValueError("not a tier of the plan catalog (GET /v1/plans)")
        return tier

    @field_validator("interval")
    @classmethod
    def _interval_sold(cls, interval: str, info: ValidationInfo) -> str:
        catalog, tier = _catalog(info), info.data.get("tier")
        # No tier means the tier itself was refused: that error is the one to show.
        if catalog is not None and tier is not None and catalog.find(tier, interval) is None:
            raise ValueError(f"this tier is not sold per {interval} (GET /v1/plans)")
        return interval


class CustomerEnsure(Params):
    """Get or create the account's Stripe customer."""

    email: Email | None = None
    name: Text | None = None


class BillingAddress(Params):
    line1: Text
    line2: Text | None = None
    postal_code: PostalCode
    city: Text
    state: Text | None = None
    country: Country


class CustomerUpdateBillingDetails(Params):
    """Company name, address, e-mail, VAT number (`eu_vat` tax id), KVK number (metadata)."""

    company_name: Text | None = None
    email: Email | None = None
    address: BillingAddress | None = None
    vat_number: VatNumber | None = None
    kvk_number: KvkNumber | None = None

    @field_validator("vat_number")
    @classmethod
    def _vat(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = normalise_vat(value)
        problem = vat_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _something(self) -> CustomerUpdateBillingDetails:
        if not self.model_fields_set:
            raise ValueError("give at least one billing detail")
        return self


class CheckoutCreate(PlanChoice):
    """A subscription Checkout session for a catalog plan."""

    success_url: AnyHttpUrl
    cancel_url: AnyHttpUrl
    payment_method_types: Annotated[list[PaymentMethodType], Field(min_length=1, max_length=4)] = (
        Field(default_factory=_card_and_ideal)
    )
    quantity: Annotated[int, Field(ge=1, le=10_000)] = 1
    allow_promotion_codes: bool = False


class PortalCreate(Params):
    """A billing portal session."""

    return_url: AnyHttpUrl


class SubscriptionChangePlan(PlanChoice):
    """Move the subscription to another plan now (prorated) or at the period end."""

    when: Literal["now", "period_end"] = "now"
    proration_behavior: Proration = "create_prorations"
    subscription_id: SubscriptionId | None = None


class SubscriptionCancel(Params):
    """Cancel at the period end (default) or now."""

    when: Literal["period_end", "now"] = "period_end"
    invoice_now: bool = False
    prorate: bool = False
    subscription_id: SubscriptionId | None = None


class SubscriptionResume(Params):
    """Undo a pending cancellation at the period end."""

    subscription_id: SubscriptionId | None = None


class PaymentMethodAttach(Params):
    """Attach a payment method to the account's customer."""

    payment_method_id: PaymentMethodId
    set_default: bool = False


class PaymentMethodRef(Params):
    """A payment method of the account's customer."""

    payment_method_id: PaymentMethodId


class SetupIntentCreate(Params):
    """A SetupIntent to collect a payment method for later (off-session) use."""

    payment_method_types: Annotated[list[PaymentMethodType], Field(min_length=1, max_length=4)] = (
        Field(default_factory=_card)
    )
    usage: Literal["off_session", "on_session"] = "off_session"


class InvoicePreview(PlanChoice):
    """The upcoming invoice if the subscription moved to this plan now."""

    proration_behavior: Proration = "create_prorations"
    subscription_id: SubscriptionId | None = None


class CreditsGrant(Params):
    """Grant credits by hand (a goodwill gesture, a correction), with a reason (audited)."""

    credits: int = Field(strict=True, ge=1, le=10**12)
    reason: Annotated[str, Field(min_length=1, max_length=500), NoNul]
    expires_at: AwareDatetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: AwareDatetime | None) -> AwareDatetime | None:
        if value is not None and value <= datetime.now(UTC):
            raise ValueError("must be in the future")
        return value


class PaygToggle(Params):
    """Pay-as-you-go on or off for the command's account (no params: the account is enough)."""


PARAMS: dict[str, type[Params]] = {
    "customer.ensure": CustomerEnsure,
    "customer.update_billing_details": CustomerUpdateBillingDetails,
    "checkout.create": CheckoutCreate,
    "portal.create": PortalCreate,
    "subscription.change_plan": SubscriptionChangePlan,
    "subscription.cancel": SubscriptionCancel,
    "subscription.resume": SubscriptionResume,
    "payment_method.attach": PaymentMethodAttach,
    "payment_method.detach": PaymentMethodRef,
    "payment_method.set_default": PaymentMethodRef,
    "setup_intent.create": SetupIntentCreate,
    "invoice.preview": InvoicePreview,
    "credits.grant": CreditsGrant,
    "payg.enable": PaygToggle,
    "payg.disable": PaygToggle,
}


def parse_params(command_type: str, params: dict[str, Any], catalog: PlanCatalog) -> Params:
    """Validate stored or incoming params of `command_type` (raises pydantic ValidationError)."""
    return PARAMS[command_type].model_validate(params, context={"catalog": catalog})
