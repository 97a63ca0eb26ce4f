"""invoice.* events -> invoices (invoice.upcoming is a preview: it never creates a row)."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.orm import Session

from domain.envelope import EventEnvelope
from domain.mirror.batch import Targets
from domain.mirror.notices import invoice_notices
from domain.mirror.ranks import invoice_stamp
from domain.mirror.store import current_stamp, key, lock_keys, upsert_stamped
from domain.mirror.tables import Invoice
from domain.mirror.transitions import invoice_transition
from domain.mirror.views import InvoiceView, parse_invoice
from domain.types import utcnow
from workers.handlers._common import write_notices

TABLE: Table = Invoice.__table__  # type: ignore[assignment]


def invoice_targets(event: EventEnvelope) -> Targets:
    view = parse_invoice(event.object, event.api_version)
    return Targets(_keys(view), ((TABLE, view.id),)) if view.id else Targets()


def _keys(view: InvoiceView) -> tuple[str | None, ...]:
    return key("invoice", view.id), key("customer", view.customer_id)


def apply_invoice_event(session: Session, event: EventEnvelope) -> None:
    """Upsert the invoice unless a later event already wrote it; notify payment problems."""
    view = parse_invoice(event.object, event.api_version)
    if view.id is None:
        return  # invoice.upcoming: a preview of an invoice that does not exist yet
    now = utcnow()
    lock_keys(session, _keys(view))
    stamp = invoice_stamp(view, event.created, event.event_id)
    row = invoice_transition(view, stamp, current_stamp(session, TABLE, view.id))
    if row is not None:
        upsert_stamped(session, TABLE, row, now)
    write_notices(
        session,
        event,
        invoice_notices(event.type, view),
        object_type="invoice",
        object_id=view.id,
        customer_id=view.customer_id,
        now=now,
    )
