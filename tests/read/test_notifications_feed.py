"""GET /v1/notifications: the outbox read by cursor, fed by signed webhooks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from domain.settings import Settings
from tests.mirror import factory as f
from tests.read import scenario
from tests.read.support import Pipeline, app_client, app_settings
from workers.runtime import Runtime


@pytest.fixture
def pipe(settings: Settings, runtime: Runtime) -> Iterator[Pipeline]:
    for client in app_client(app_settings()):
        yield Pipeline(client, runtime)


def test_cursor_walks_the_outbox_oldest_first(pipe: Pipeline) -> None:
    pipe.deliver(*scenario.events())
    everything = pipe.get("/v1/notifications")
    assert [(n["kind"], n["event_id"]) for n in everything["data"]] == scenario.KINDS
    assert everything["has_more"] is False

    first = pipe.get("/v1/notifications", limit=3)
    assert [n["event_id"] for n in first["data"]] == ["evt_n1", "evt_n2", "evt_n3"]
    assert first["has_more"] is True and first["next_cursor"] == first["data"][-1]["id"]
    rest = pipe.get("/v1/notifications", after=first["next_cursor"], limit=3)
    assert [n["event_id"] for n in rest["data"]] == ["evt_n4"]
    assert rest["has_more"] is False
    # Nothing new: the cursor stays where it is, so a poller can pass it back unchanged.
    idle = pipe.get("/v1/notifications", after=rest["next_cursor"])
    assert idle == {"data": [], "has_more": False, "next_cursor": rest["next_cursor"]}

    failed = everything["data"][1]
    assert failed["account_ref"] == scenario.ACCT
    assert failed["stripe_customer_id"] == scenario.CUS
    assert (failed["object_type"], failed["object_id"]) == ("invoice", "in_n")
    assert failed["event_created"] == scenario.T0 + 2
    assert failed["data"]["amount_due"] == 4900 and failed["data"]["currency"] == "eur"
    assert failed["data"]["attempt_count"] == 1
    assert failed["delivery_status"] == "pending"  # NOTIFY_URL is not set here
    changed = everything["data"][2]["data"]
    assert (changed["previous_plan_tier"], changed["plan_tier"]) == ("pro", "business")


def test_filter_by_account(pipe: Pipeline) -> None:
    pipe.deliver(*scenario.events())
    other = f.invoice("in_o", "cus_other", None, "open", attempt_count=1)
    pipe.deliver(
        f.event("customer.created", f.customer("cus_other", account_ref="org_other"), 1),
        f.event("invoice.payment_failed", other, 2, event_id="evt_other"),
    )
    mine = pipe.get("/v1/notifications", account_ref=scenario.ACCT)["data"]
    assert [n["event_id"] for n in mine] == [e for _, e in scenario.KINDS]
    theirs = pipe.get("/v1/notifications", account_ref="org_other")["data"]
    assert [(n["kind"], n["event_id"]) for n in theirs] == [("payment_failed", "evt_other")]


def test_replayed_events_add_no_notification(pipe: Pipeline, runtime: Runtime) -> None:
    events = scenario.events()
    pipe.deliver(*events)
    before = pipe.get("/v1/notifications")["data"]
    # Stripe redelivers every event (a duplicate at the edge) ...
    pipe.deliver(*events)
    # ... and ops force a re-run of all of them through the handlers.
    with runtime.engine.begin() as conn:
        conn.execute(text("UPDATE stripe_events SET status = 'queued'"))
    pipe.deliver(*events)
    assert pipe.get("/v1/notifications")["data"] == before
