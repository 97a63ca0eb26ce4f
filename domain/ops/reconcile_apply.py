"""One object of a reconcile step: compared with its stored row, and repaired when asked.

A repair is the object applied as an event of its family's own type through the
registered handler (locks, ordering rule, transitions, credits, notices), in the caller's
transaction, under `reconcile_stamp`: the second Stripe served the object in, so a newer
webhook still wins and a newer stored row is not overwritten. The object is then compared
again; `repaired` says the row now matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.envelope import EventEnvelope
from domain.mirror.ordering import reconcile_stamp
from domain.mirror.unit import Registration, Unit
from domain.ops.drift import Finding, compare
from domain.ops.reconcile_kinds import Kind

Obj = dict[str, Any]


class NoDeletion(Exception):
    """Stripe answers 404 for an object of a kind it never deletes: nothing to apply."""


def settle(
    unit: Unit,
    kind: Kind,
    obj: Obj,
    answered_at: int | None,
    gone: bool,
    repair: bool,
    run_id: int,
    registry: Mapping[str, Registration],
) -> tuple[Finding, bool]:
    """(finding, repaired) for one object Stripe listed or answered for (`gone`: deleted/404)."""
    session = unit.session
    object_id = str(obj["id"])
    stored = kind.stored(session, object_id)
    if gone and stored is not None:
        obj = kind.gone_object(stored, obj)
    finding = compare_object(unit, kind, object_id, obj, stored, gone)
    if not (finding.drift and repair):
        return finding, False
    if gone:  # no Date for a 404: the stored row's second, which the deletion's rank beats
        fallback = (stored or {}).get("last_event_created")
    else:
        fallback = obj.get("created") if isinstance(obj.get("created"), int) else None
    created, event_id = reconcile_stamp(answered_at, fallback, run_id, object_id)
    event_type = kind.deleted_type if gone else kind.apply_type(obj)
    if event_type is None:
        raise NoDeletion(kind.name)
    envelope = EventEnvelope(
        event_id=event_id,
        type=event_type,
        created=created,
        api_version=None,
        livemode=bool(obj.get("livemode", False)),
        account=None,
        object_type=kind.family.object_type,
        object_id=object_id,
        data={"object": obj},
    )
    registry[event_type].handler(unit, envelope)
    after = compare_object(unit, kind, object_id, obj, kind.stored(session, object_id), gone)
    return finding, not after.drift


def compare_object(
    unit: Unit, kind: Kind, object_id: str, obj: Obj, stored: dict[str, Any] | None, gone: bool
) -> Finding:
    """The object's row (as its family's transition gives it) against the stored one."""
    if gone and stored is None:
        return compare(kind.name, object_id, None, None, gone=True)
    if gone and kind.deleted_type is None:  # the mirror has no deleted state for it
        return compare(kind.name, object_id, None, stored, gone=True)
    expected = kind.expected(unit.session, obj, unit.deps, stored)
    return compare(kind.name, object_id, expected, stored, gone=gone)
