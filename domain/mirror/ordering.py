"""The ordering rule: which of two events about one object wins, whatever the arrival order.

Every mirrored row stores the stamp of the event that last wrote it. An incoming event is
applied iff its stamp is >= the row's stamp, comparing lexicographically:

1. `created` (Stripe's event second): newer wins, older never overwrites.
2. `rank` (same second): terminal states outrank every non-terminal one, so a same-second
   non-terminal event never undoes `canceled`, `void`, `paid`, `detached`, ...; below that,
   the status's position in the object's lifecycle, then a per-family progress counter
   (event type order, invoice attempt count).
3. `event_id` (same second, same rank): the larger id wins. Arbitrary but deterministic, so
   the final row is the same for every arrival order.

Equal stamps mean the same event again (a replay), which re-applies identical content.

A command's result (the object Stripe answered a write with) is applied like its event, so
it shows at once; see `command_result_stamp` for its stamp. In short: stamped with the
second Stripe answered in (the `Date` header, Stripe's clock, the same one its events'
`created` use) and an id that sorts after every `evt_...`. So the result beats every
webhook created before that second, wins a same-second tie of equal rank (a webhook of that
second may be from just before the change; the change's own webhook carries the same
content), and loses to any webhook of a later second or of a higher rank.
"""

from __future__ import annotations

from dataclasses import dataclass

TERMINAL_WEIGHT = 1_000_000
STATUS_WEIGHT = 10_000
MAX_PROGRESS = STATUS_WEIGHT - 1


@dataclass(frozen=True, order=True, slots=True)
class Stamp:
    """(event created, tie rank, event id): the total order events are applied in."""

    created: int
    rank: int
    event_id: str


def tie_rank(*, terminal: bool, status_rank: int, progress: int = 0) -> int:
    """Pack the same-second tie breakers into one integer (stored as last_event_rank)."""
    progress = max(0, min(progress, MAX_PROGRESS))
    return (TERMINAL_WEIGHT if terminal else 0) + status_rank * STATUS_WEIGHT + progress


def supersedes(incoming: Stamp, current: Stamp | None) -> bool:
    """True when `incoming` may overwrite a row last written at `current`."""
    return current is None or incoming >= current


# Ids of command results in `last_event_id`: one stamped by Stripe's clock sorts after
# Stripe's `evt_...` (wins equal-rank ties of its second), one without sorts before them.
DATED_RESULT_PREFIX = "result."
UNDATED_RESULT_PREFIX = ""  # the command id itself: `cmd_...` < `evt_...`


def command_result_stamp(
    command_id: str,
    n: int,
    answered_at: int | None,
    object_created: int | None,
    received_us: int | None = None,
) -> tuple[int, str]:
    """(`created`, event id) for the `n`th object a command got back, applied to the mirror.

    `answered_at` is the second of Stripe's answer (its `Date` header), None when the answer
    had none or was an idempotent replay (whose Date is the replay's, not the change's: the
    body may be older than webhooks that arrived meanwhile). Then the result is stamped with
    the object's own `created`, the earliest it can be, and an id that loses ties: it still
    shows over the object's creation event (an update outranks a creation in one second) and
    on objects the mirror does not have yet, but never over an update webhook.

    `received_us` (our clock when the answer arrived, in microseconds) orders two dated
    results of one second: the later answer is the later state (payg.enable then
    payg.disable), whichever command id sorts first.
    """
    if answered_at is not None:
        order = f"{received_us:016d}." if received_us is not None else ""
        return answered_at, f"{DATED_RESULT_PREFIX}{order}{command_id}.{n}"
    return object_created or 0, f"{UNDATED_RESULT_PREFIX}{command_id}.{n}"


# Ids of reconcile repairs in `last_event_id`: sorts before Stripe's `evt_...`, so a webhook
# of the second Stripe served the object in wins the tie (it may be the newer state).
RECONCILE_PREFIX = "drift."


def reconcile_stamp(
    answered_at: int | None, fallback: int | None, run_id: int, object_id: str
) -> tuple[int, str]:
    """(`created`, event id) for Stripe's current object applied by `billing reconcile --repair`.

    `answered_at` is the second Stripe served the object in (its `Date` header): the object
    is Stripe's state as of that second, so it beats every webhook created before it and
    loses to any of a later second (and to one of the same second and rank). It is the
    time of the fetch, never of the repair: a report repaired later cannot overwrite a
    webhook that arrived in between. Without a Date, `fallback` (the object's `created`, or
    for a deleted object the stamp second of the row it ends) is the earliest it can be.
    """
    return answered_at or fallback or 0, f"{RECONCILE_PREFIX}{run_id}.{object_id}"


def stamp_of(created: int | None, rank: int | None, event_id: str | None) -> Stamp | None:
    """The stamp stored on a row, or None when no event has written it yet."""
    if created is None or event_id is None:
        return None
    return Stamp(created, rank or 0, event_id)
