"""The checks after a scenario settled: events, the mirror against the in-order run, effects.

- every acked event is stored and ends processed/ignored/dead, and no valid one is dead;
- the mirror (and its notifications) equals the in-order run of the same unique events,
  applied one at a time through the real handlers to a fresh database;
- no effect is duplicated: notifications are unique per (event, kind) and as many as the
  in-order run's; every slow test handler committed its effect once, the failing one never.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import text

from tests.faults.lifecycles import ACCOUNT_PREFIX, FAILING_TYPE, UNKNOWN_TYPE, Batch, Event
from tests.faults.load import Ledger
from tests.faults.result import Result
from tests.faults.rig import Rig
from tests.mirror.support import apply, snapshot

FINAL = ("processed", "ignored", "dead")


def check_events(rig: Rig, batch: Batch, slow: list[Event], ledger: Ledger, result: Result) -> None:
    """Stored, finished as expected, effects committed once (see the module docstring)."""
    sent = {e.event_id: e for e in [*batch.events, *slow]}
    if set(ledger.acked) != set(sent):
        result.problems.append(f"not every event was acked: {sorted(set(sent) - ledger.acked)[:5]}")
    with rig.db.connect() as conn:
        rows: dict[str, str] = dict(
            conn.execute(
                text("SELECT event_id, status FROM stripe_events WHERE event_id = ANY(:ids)"),
                {"ids": sorted(ledger.acked)},
            ).all()
        )
        effects: dict[str, int] = dict(
            conn.execute(
                text(
                    "SELECT event_id, count(*) FROM test_effects WHERE event_id = ANY(:ids)"
                    " GROUP BY event_id"
                ),
                {"ids": sorted(sent)},
            ).all()
        )
        dead_letters = set(
            conn.execute(
                text("SELECT event_id FROM dead_letters WHERE event_id = ANY(:ids)"),
                {"ids": sorted(sent)},
            ).scalars()
        )
    lost = [i for i in ledger.acked if rows.get(i) not in FINAL]
    result.lost = len(lost)
    if lost:
        result.problems.append(f"acked but not finished: {[(i, rows.get(i)) for i in lost[:5]]}")
    expected = {
        i: "dead"
        if e.type == FAILING_TYPE
        else "ignored"
        if e.type == UNKNOWN_TYPE
        else "processed"
        for i, e in sent.items()
    }
    wrong = {i: (rows.get(i), want) for i, want in expected.items() if rows.get(i) != want}
    if wrong:
        result.problems.append(f"wrong final status (got, want): {list(wrong.items())[:5]}")
    missing_letters = [
        i for i, want in expected.items() if want == "dead" and i not in dead_letters
    ]
    if missing_letters:
        result.problems.append(f"dead without a dead letter: {missing_letters}")
    for event in slow:
        if effects.get(event.event_id, 0) != 1:
            result.duplicated_effects += max(0, effects.get(event.event_id, 0) - 1)
            result.problems.append(
                f"slow handler committed {effects.get(event.event_id, 0)} effects, want 1"
            )
    for event in batch.extra:
        if event.type == FAILING_TYPE and effects.get(event.event_id, 0):
            result.problems.append("the failing handler's write was committed")


def check_taken_back(rig: Rig, killed: list[Event], result: Result) -> None:
    """A handler whose process was killed was counted as a failed attempt and run again
    (so the kill really landed mid-handler and recovery went through the lease expiry)."""
    if not killed:
        return
    with rig.db.connect() as conn:
        attempts: dict[str, int] = dict(
            conn.execute(
                text("SELECT event_id, attempts FROM stripe_events WHERE event_id = ANY(:ids)"),
                {"ids": [e.event_id for e in killed]},
            ).all()
        )
    if not all(attempts.get(e.event_id, 0) >= 1 for e in killed):
        result.problems.append(f"killed handlers not taken back as a failed attempt: {attempts}")


def check_mirror(rig: Rig, batch: Batch, result: Result) -> None:
    """Apply the batch in order to the reference database and compare the two mirrors."""
    for event in batch.in_order:  # Stripe's order, one at a time, through the real processor
        apply(rig.reference, orjson.loads(event.body))
    live, reference = loader_rows(snapshot(rig.db)), snapshot(rig.reference.engine)
    with rig.db.connect() as conn:
        repeated = conn.execute(
            text("SELECT event_id, kind FROM notifications GROUP BY 1, 2 HAVING count(*) > 1")
        ).all()
    extra = len(live["notifications"]) - len(reference["notifications"])
    result.duplicated_effects += len(repeated) + max(0, extra)
    if repeated or extra:
        result.problems.append(f"notifications: {extra:+d} vs in-order, repeated {repeated[:5]}")
    for table in reference:
        if live[table] != reference[table]:
            diff = [r for r in live[table] if r not in reference[table]][:3]
            gone = [r for r in reference[table] if r not in live[table]][:3]
            result.problems.append(f"mirror {table} differs: extra {diff}, missing {gone}")


def loader_rows(snap: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The snapshot without the rows commands wrote (their accounts are not the loader's)."""

    def ours(row: dict[str, Any]) -> bool:
        ref = row.get("account_ref")
        event_id = row.get("event_id")
        return (ref is None or ref.startswith(ACCOUNT_PREFIX)) and (
            event_id is None or event_id.startswith("evt_")
        )

    return {table: [r for r in rows if ours(r)] for table, rows in snap.items()}
