"""`--force` re-run of an old event through the real mirror handlers never regresses state."""

from __future__ import annotations

from sqlalchemy import Engine

from tests.mirror import factory as f
from tests.mirror.support import apply, snapshot
from tests.ops.support import OPS, Published, service
from workers.processor import process_events
from workers.runtime import Runtime

T = 1_720_000_000


def test_forced_rerun_of_an_old_subscription_event_leaves_the_mirror(
    runtime: Runtime, db: Engine
) -> None:
    old = f.event("customer.subscription.updated", f.subscription("sub_f", "cus_f", "active"), T)
    new = f.event(
        "customer.subscription.updated", f.subscription("sub_f", "cus_f", "past_due"), T + 60
    )
    apply(runtime, old, new)
    before = snapshot(db)
    assert before["subscriptions"][0]["status"] == "past_due"
    published = Published()
    result = service(runtime, published).replay_events(OPS, [old["id"]], force=True)
    assert result.replayed == [old["id"]]
    outcome = process_events(runtime, published.ids)  # the production dispatch table
    assert outcome.processed == [old["id"]]
    assert snapshot(db) == before
    [sub] = before["subscriptions"]
    assert (sub["status"], sub["last_event_id"]) == ("past_due", new["id"])
