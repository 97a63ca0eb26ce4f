"""checkout.session.* events -> checkout_sessions, and the account <-> customer link."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.orm import Session

from domain.envelope import EventEnvelope
from domain.mirror.accounts import fill_blank_account_fields, link_account
from domain.mirror.batch import Targets
from domain.mirror.notices import checkout_notices
from domain.mirror.ranks import checkout_stamp
from domain.mirror.store import current_stamp, key, lock_keys, upsert_stamped
from domain.mirror.tables import CheckoutSession
from domain.mirror.transitions import checkout_transition
from domain.mirror.views import CheckoutView, parse_checkout
from domain.types import utcnow
from workers.handlers._common import write_notices

TABLE: Table = CheckoutSession.__table__  # type: ignore[assignment]


def checkout_targets(event: EventEnvelope) -> Targets:
    view = parse_checkout(event.object)
    return Targets(_keys(view), ((TABLE, view.id),))


def _keys(view: CheckoutView) -> tuple[str | None, ...]:
    return (
        key("checkout", view.id),
        key("customer", view.customer_id),
        key("account", view.account_ref),
    )


def apply_checkout_event(session: Session, event: EventEnvelope) -> None:
    """Upsert the session; link its client_reference_id to its customer whatever the order."""
    view = parse_checkout(event.object)
    now = utcnow()
    lock_keys(session, _keys(view))
    stamp = checkout_stamp(view, event.type, event.created, event.event_id)
    row = checkout_transition(view, event.type, stamp, current_stamp(session, TABLE, view.id))
    if row is not None:
        upsert_stamped(session, TABLE, row, now)
    # Linking is a fact, not a state: every checkout event with both ids applies it.
    if view.account_ref is not None and view.customer_id is not None:
        account = link_account(
            session, account_ref=view.account_ref, customer_id=view.customer_id, now=now
        )
        if account is not None:
            details = {"email": view.email, "name": view.name, "currency": view.currency}
            fill_blank_account_fields(session, account, details, now)
    write_notices(
        session,
        event,
        checkout_notices(event.type, view),
        object_type="checkout.session",
        object_id=view.id,
        customer_id=view.customer_id,
        now=now,
    )
