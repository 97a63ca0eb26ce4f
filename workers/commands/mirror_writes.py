"""Apply Stripe objects a command got back to the mirror, exactly as their events would.

Each object goes through the same handler (ordering rule, locks, transitions) as the event
Stripe sends for it, under a stamp that loses to that event: `created` a little in the past
(our clock and Stripe's differ) and an id `cmd_...` that sorts before every `evt_...`. So
the result shows at once, and the webhook that follows agrees with it or supersedes it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy.orm import Session

from domain.envelope import EventEnvelope
from workers.commands.context import MirrorWrite
from workers.handlers import HANDLERS

CLOCK_MARGIN_SECONDS = 5


def apply_results(session: Session, command_id: str, writes: Sequence[MirrorWrite]) -> None:
    """Run each write through its event handler in the caller's transaction."""
    created = int(time.time()) - CLOCK_MARGIN_SECONDS
    for n, write in enumerate(writes):
        data: dict[str, object] = {"object": write.obj}
        if write.previous_attributes is not None:
            data["previous_attributes"] = write.previous_attributes
        envelope = EventEnvelope(
            event_id=f"{command_id}.{n}",
            type=write.event_type,
            created=created,
            api_version=None,
            livemode=bool(write.obj.get("livemode", False)),
            account=None,
            object_type=str(write.obj.get("object") or "") or None,
            object_id=str(write.obj.get("id") or "") or None,
            data=data,
        )
        HANDLERS[write.event_type](session, envelope)
