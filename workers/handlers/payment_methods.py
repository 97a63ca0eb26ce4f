"""payment_method.* events -> payment_methods (detached rows are kept, marked detached)."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.orm import Session

from domain.envelope import EventEnvelope
from domain.mirror.accounts import default_payment_method_of
from domain.mirror.batch import Targets
from domain.mirror.customer_views import PaymentMethodView, parse_payment_method
from domain.mirror.ranks import payment_method_stamp
from domain.mirror.store import (
    current_stamp,
    customer_of_payment_method,
    key,
    lock_keys,
    upsert_stamped,
)
from domain.mirror.stripe_json import ref_id
from domain.mirror.tables import PaymentMethod
from domain.mirror.transitions import payment_method_transition
from domain.types import utcnow

TABLE: Table = PaymentMethod.__table__  # type: ignore[assignment]


def payment_method_targets(event: EventEnvelope) -> Targets:
    view = parse_payment_method(event.object)
    return Targets(_keys(view, _customer_of(view, event)), ((TABLE, view.id),))


def _customer_of(view: PaymentMethodView, event: EventEnvelope) -> str | None:
    # A detach event's object has customer=null; the former owner is in previous_attributes.
    return view.customer_id or ref_id(event.previous_attributes.get("customer"))


def _keys(view: PaymentMethodView, customer_id: str | None) -> tuple[str | None, ...]:
    return key("payment_method", view.id), key("customer", customer_id)


def apply_payment_method_event(session: Session, event: EventEnvelope) -> None:
    """Upsert the payment method unless a later event already wrote it."""
    view = parse_payment_method(event.object)
    customer_id = _customer_of(view, event)
    lock_keys(session, _keys(view, customer_id))
    customer_id = customer_id or customer_of_payment_method(session, view.id)
    stamp = payment_method_stamp(view, event.type, event.created, event.event_id)
    row = payment_method_transition(
        view,
        event.type,
        stamp,
        current_stamp(session, TABLE, view.id),
        known_customer_id=customer_id,
        default_payment_method_id=default_payment_method_of(session, customer_id),
    )
    if row is not None:
        upsert_stamped(session, TABLE, row, utcnow())
