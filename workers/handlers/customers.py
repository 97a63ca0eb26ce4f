"""customer.* events -> billing_accounts (details, deletion, default payment method)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from domain.envelope import EventEnvelope
from domain.mirror.accounts import link_account, update_account
from domain.mirror.batch import Targets
from domain.mirror.customer_views import CustomerView, parse_customer
from domain.mirror.ordering import stamp_of
from domain.mirror.ranks import customer_stamp
from domain.mirror.store import key, lock_keys, sync_default_payment_method
from domain.mirror.transitions import customer_transition
from domain.types import utcnow


def customer_targets(event: EventEnvelope) -> Targets:
    return Targets(_keys(parse_customer(event.object)))


def _keys(view: CustomerView) -> tuple[str | None, ...]:
    return key("customer", view.id), key("account", view.account_ref)


def apply_customer_event(session: Session, event: EventEnvelope) -> None:
    """Create or link the account of this customer, then apply the details if newer."""
    view = parse_customer(event.object)
    now = utcnow()
    lock_keys(session, _keys(view))
    account = link_account(session, account_ref=view.account_ref, customer_id=view.id, now=now)
    if account is None:  # pragma: no cover - a customer always has an id
        return
    current = stamp_of(
        account["last_event_created"], account["last_event_rank"], account["last_event_id"]
    )
    stamp = customer_stamp(event.type, event.created, event.event_id)
    deleted = event.type == "customer.deleted"
    values = customer_transition(view, stamp, current, deleted=deleted)
    if values is None:
        return
    update_account(session, account["id"], values, now)
    sync_default_payment_method(session, view.id, view.default_payment_method_id, now)
