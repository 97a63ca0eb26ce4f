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


def stamp_of(created: int | None, rank: int | None, event_id: str | None) -> Stamp | None:
    """The stamp stored on a row, or None when no event has written it yet."""
    if created is None or event_id is None:
        return None
    return Stamp(created, rank or 0, event_id)
