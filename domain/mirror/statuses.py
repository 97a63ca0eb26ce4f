"""String enums for the mirrored Stripe objects, stored by value (never by name)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum


class SubscriptionStatus(StrEnum):
    """Stripe's subscription statuses."""

    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    PAUSED = "paused"
    CANCELED = "canceled"


class InvoiceStatus(StrEnum):
    """Stripe's invoice statuses, and `deleted`: a draft deleted in Stripe (`invoice.deleted`;
    Stripe's object may say `status: "deleted"`). Its row stays as a tombstone so an older
    event arriving late cannot bring the draft back; the read API never lists it."""

    DRAFT = "draft"
    OPEN = "open"
    UNCOLLECTIBLE = "uncollectible"
    PAID = "paid"
    VOID = "void"
    DELETED = "deleted"


class PaymentMethodStatus(StrEnum):
    """Whether a payment method is attached to its customer (detached is final in Stripe)."""

    ATTACHED = "attached"
    DETACHED = "detached"


class CheckoutStatus(StrEnum):
    """Stripe's checkout session statuses."""

    OPEN = "open"
    COMPLETE = "complete"
    EXPIRED = "expired"


class CheckoutPaymentStatus(StrEnum):
    """Stripe's checkout session payment statuses."""

    UNPAID = "unpaid"
    PAID = "paid"
    NO_PAYMENT_REQUIRED = "no_payment_required"


class NotificationKind(StrEnum):
    """What the product is told about, once per underlying Stripe event (the kinds of the
    first families; a family added later declares its kinds in its own module)."""

    PAYMENT_FAILED = "payment_failed"
    PAYMENT_ACTION_REQUIRED = "payment_action_required"
    SUBSCRIPTION_ACTIVATED = "subscription_activated"
    SUBSCRIPTION_PLAN_CHANGED = "subscription_plan_changed"
    SUBSCRIPTION_CANCELED = "subscription_canceled"
    TRIAL_WILL_END = "trial_will_end"
    CHECKOUT_ASYNC_PAYMENT_FAILED = "checkout_async_payment_failed"


class DeliveryStatus(StrEnum):
    """Delivery of one notification to NOTIFY_URL."""

    PENDING = "pending"
    DELIVERED = "delivered"
    RETRYING = "retrying"
    DEAD = "dead"


def enum_type(enum_cls: type[StrEnum], name: str, length: int = 32) -> Enum:
    """A VARCHAR + CHECK column type that stores the enum's values."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
