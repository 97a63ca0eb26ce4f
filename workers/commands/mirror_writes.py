"""Apply Stripe objects a command got back to the mirror, exactly as their events would.

Each object goes through the same handler (ordering rule, locks, transitions) as the event
Stripe sends for it, under the stamp of `domain.mirror.ordering.command_result_stamp`: the
second Stripe answered in (its `Date` header), so the result shows at once over every
webhook created before the change, and the webhooks that follow agree with it or supersede
it; two results of one second are ordered by when their answers arrived. Without a usable
Date (none, or an idempotent replay) the stamp is the object's own
`created` with an id that loses ties: safe, never over an update webhook.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from domain.envelope import EventEnvelope
from domain.mirror.families import REGISTRY
from domain.mirror.ordering import command_result_stamp
from domain.mirror.unit import Registration, Unit
from workers.commands.context import MirrorWrite
from workers.stripe_gateway import StripeResult


def apply_results(
    unit: Unit,
    command_id: str,
    writes: Sequence[MirrorWrite],
    registry: Mapping[str, Registration] = REGISTRY,
) -> None:
    """Run each write through its event type's handler in the caller's unit of work."""
    for n, write in enumerate(writes):
        data: dict[str, object] = {"object": write.obj}
        if write.previous_attributes is not None:
            data["previous_attributes"] = write.previous_attributes
        result = write.obj if isinstance(write.obj, StripeResult) else None
        created = write.obj.get("created")
        stamp_created, event_id = command_result_stamp(
            command_id,
            n,
            result.answered_at if result else None,
            created if isinstance(created, int) else None,
            result.received_us if result else None,
        )
        envelope = EventEnvelope(
            event_id=event_id,
            type=write.event_type,
            created=stamp_created,
            api_version=None,
            livemode=bool(write.obj.get("livemode", False)),
            account=None,
            object_type=str(write.obj.get("object") or "") or None,
            object_id=str(write.obj.get("id") or "") or None,
            data=data,
        )
        registry[write.event_type].handler(unit, envelope)
