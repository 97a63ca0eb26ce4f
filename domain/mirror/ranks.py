"""Same-second tie ranks per object family (the `rank` of domain.mirror.ordering.Stamp)."""

from __future__ import annotations

from domain.mirror.customer_views import PaymentMethodView
from domain.mirror.ordering import Stamp, tie_rank
from domain.mirror.statuses import CheckoutStatus, InvoiceStatus, SubscriptionStatus
from domain.mirror.views import CheckoutView, InvoiceView, SubscriptionView

# Lifecycle positions for same-second ties (see domain.mirror.ordering).
SUBSCRIPTION_RANK = {
    SubscriptionStatus.INCOMPLETE: 0,
    SubscriptionStatus.TRIALING: 1,
    SubscriptionStatus.ACTIVE: 2,
    SubscriptionStatus.PAST_DUE: 3,
    SubscriptionStatus.UNPAID: 4,
    SubscriptionStatus.PAUSED: 5,
    SubscriptionStatus.INCOMPLETE_EXPIRED: 6,
    SubscriptionStatus.CANCELED: 7,
}
SUBSCRIPTION_TERMINAL = frozenset(
    {SubscriptionStatus.CANCELED, SubscriptionStatus.INCOMPLETE_EXPIRED}
)
INVOICE_RANK = {
    InvoiceStatus.DRAFT: 0,
    InvoiceStatus.OPEN: 1,
    InvoiceStatus.UNCOLLECTIBLE: 2,
    InvoiceStatus.PAID: 3,
    InvoiceStatus.VOID: 4,
}
# Stripe never reopens a paid or voided invoice (uncollectible can still be paid).
INVOICE_TERMINAL = frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID})
CHECKOUT_RANK = {None: 0, CheckoutStatus.OPEN: 0, CheckoutStatus.COMPLETE: 1}
# The order events of one object are emitted in when their status does not tell them apart.
TYPE_PROGRESS = {
    "customer.subscription.created": 0,
    "customer.subscription.deleted": 2,
    "checkout.session.completed": 0,
    "checkout.session.async_payment_succeeded": 1,
    "checkout.session.async_payment_failed": 1,
    "payment_method.attached": 0,
    "customer.created": 0,
}
DEFAULT_PROGRESS = 1


def _progress(event_type: str) -> int:
    return TYPE_PROGRESS.get(event_type, DEFAULT_PROGRESS)


def subscription_stamp(
    view: SubscriptionView, event_type: str, created: int, event_id: str
) -> Stamp:
    """Stamp of a subscription event: terminal status, lifecycle position, event type."""
    rank = tie_rank(
        terminal=view.status in SUBSCRIPTION_TERMINAL,
        status_rank=SUBSCRIPTION_RANK[view.status],
        progress=_progress(event_type),
    )
    return Stamp(created, rank, event_id)


def invoice_stamp(view: InvoiceView, created: int, event_id: str) -> Stamp:
    """Stamp of an invoice event: terminal status, lifecycle position, attempt count."""
    rank = tie_rank(
        terminal=view.status in INVOICE_TERMINAL,
        status_rank=INVOICE_RANK[view.status],
        progress=view.attempt_count,
    )
    return Stamp(created, rank, event_id)


def checkout_stamp(view: CheckoutView, event_type: str, created: int, event_id: str) -> Stamp:
    """Stamp of a checkout event: expired is terminal; completion before async settlement."""
    expired = view.status is CheckoutStatus.EXPIRED or event_type == "checkout.session.expired"
    rank = tie_rank(
        terminal=expired,
        status_rank=CHECKOUT_RANK.get(view.status, 0),
        progress=_progress(event_type),
    )
    return Stamp(created, rank, event_id)


def payment_method_detached(view: PaymentMethodView, event_type: str) -> bool:
    """Detached when the event says so or the payload no longer has a customer."""
    return event_type == "payment_method.detached" or view.customer_id is None


def payment_method_stamp(
    view: PaymentMethodView, event_type: str, created: int, event_id: str
) -> Stamp:
    """Stamp of a payment method event: detached is terminal (Stripe never reattaches)."""
    rank = tie_rank(
        terminal=payment_method_detached(view, event_type),
        status_rank=0,
        progress=_progress(event_type),
    )
    return Stamp(created, rank, event_id)


def customer_stamp(event_type: str, created: int, event_id: str) -> Stamp:
    """Stamp of a customer event: deleted is terminal."""
    deleted = event_type == "customer.deleted"
    return Stamp(
        created, tie_rank(terminal=deleted, status_rank=0, progress=_progress(event_type)), event_id
    )
