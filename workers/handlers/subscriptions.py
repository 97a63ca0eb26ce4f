"""customer.subscription.* events -> subscriptions and subscription_items."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.orm import Session

from domain.envelope import EventEnvelope
from domain.mirror.batch import Targets
from domain.mirror.notices import subscription_notices
from domain.mirror.ranks import subscription_stamp
from domain.mirror.store import (
    current_stamp,
    key,
    lock_keys,
    replace_items,
    upsert_stamped,
)
from domain.mirror.tables import Subscription
from domain.mirror.transitions import subscription_transition
from domain.mirror.views import SubscriptionView, parse_subscription
from domain.types import utcnow
from workers.handlers._common import plan_catalog, write_notices

TABLE: Table = Subscription.__table__  # type: ignore[assignment]


def subscription_targets(event: EventEnvelope) -> Targets:
    view = parse_subscription(event.object, event.api_version)
    return Targets(_keys(view), ((TABLE, view.id),))


def _keys(view: SubscriptionView) -> tuple[str | None, ...]:
    return key("subscription", view.id), key("customer", view.customer_id)


def apply_subscription_event(session: Session, event: EventEnvelope) -> None:
    """Upsert the subscription (and its items) unless a later event already wrote it."""
    view = parse_subscription(event.object, event.api_version)
    catalog = plan_catalog()
    now = utcnow()
    lock_keys(session, _keys(view))
    stamp = subscription_stamp(view, event.type, event.created, event.event_id)
    change = subscription_transition(view, stamp, current_stamp(session, TABLE, view.id), catalog)
    if change is not None:
        upsert_stamped(session, TABLE, change.row, now)
        replace_items(session, view.id, change.items, now)
    write_notices(
        session,
        event,
        subscription_notices(event.type, view, event.previous_attributes, catalog),
        object_type="subscription",
        object_id=view.id,
        customer_id=view.customer_id,
        now=now,
    )
