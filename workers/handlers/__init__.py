"""The dispatch table: one handler per Stripe event type.

A handler applies one event to the billing mirror inside the caller's transaction; it never
commits. Event types without a handler are stored and marked `ignored`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from domain.envelope import EventEnvelope

Handler = Callable[[Session, EventEnvelope], None]

HANDLERS: dict[str, Handler] = {}
