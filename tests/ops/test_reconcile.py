"""Drift reconciliation against the fake Stripe: report, repair, re-run, ordering kept."""

from __future__ import annotations

from datetime import datetime, timedelta

import orjson
import pytest
from sqlalchemy import Engine, text

from domain.envelope import EventEnvelope
from domain.mirror.families import REGISTRY
from domain.mirror.unit import Registration, Unit
from domain.ops.audit import Actor
from domain.ops.reconcile import ReconcileRefused, ReconcileResult, ReconcileService
from domain.ops.reconcile_kinds import DEFAULT_KINDS
from domain.settings import Settings
from domain.types import utcnow
from tests.families.support import DEPS
from tests.ops.reconcile_support import Drift, apply, customer, drifted, one
from tests.support.fake_stripe import FakeStripe
from workers.reconcile import gateway_reads, reconcile_service
from workers.stripe_gateway import make_gateway

ACTOR = Actor("tester", "cli")


@pytest.fixture
def service(db: Engine, stripe_settings: Settings) -> ReconcileService:
    # Two objects a page, so every list is paged through its cursor.
    return reconcile_service(db, stripe_settings, DEPS, page_size=2, retry_delay=0.01)


@pytest.fixture
def drift(fake: FakeStripe, db: Engine) -> Drift:
    return drifted(fake, db)


def since() -> datetime:
    return utcnow() - timedelta(days=1)


def outcomes(result: ReconcileResult) -> dict[tuple[str, str], str]:
    return {(f["kind"], f["object_id"]): f["outcome"] for f in result.findings}


def test_the_report_finds_each_kind_of_drift_and_changes_nothing(
    service: ReconcileService, drift: Drift, db: Engine
) -> None:
    before = one(db, "SELECT count(*) AS n, max(updated_at) AS at FROM subscriptions")
    result = service.start(ACTOR, since(), DEFAULT_KINDS)
    assert result.complete and result.stopped is None
    assert outcomes(result) == drift.expected()
    assert (result.missing, result.extra, result.differing) == (3, 3, 3)
    assert result.repaired == 0
    by_id = {f["object_id"]: f for f in result.findings}
    assert by_id[drift.stale_subscription]["fields"] == [
        {"field": "status", "mirror": "trialing", "stripe": "active"}
    ]
    assert [f["field"] for f in by_id[drift.renamed_customer]["fields"]] == ["email"]
    assert "@" not in orjson.dumps(result.as_dict()).decode()  # no e-mail in the report
    assert one(db, "SELECT count(*) AS n, max(updated_at) AS at FROM subscriptions") == before


def test_repair_fixes_each_drift_and_a_second_run_finds_none(
    service: ReconcileService, drift: Drift, db: Engine
) -> None:
    with pytest.raises(ReconcileRefused, match="reason"):
        service.start(ACTOR, since(), DEFAULT_KINDS, repair=True)
    result = service.start(
        ACTOR,
        since(),
        DEFAULT_KINDS,
        repair=True,
        reason="webhooks lost during the outage",
    )
    assert outcomes(result) == drift.expected()
    assert result.repaired == 9 and all(f["repaired"] for f in result.findings)
    sub = one(db, "SELECT status FROM subscriptions WHERE id = :i", i=drift.stale_subscription)
    assert sub["status"] == "active"
    gone = one(db, "SELECT status FROM subscriptions WHERE id = :i", i=drift.extra_subscription)
    assert gone["status"] == "canceled"
    account = one(
        db,
        "SELECT deleted FROM billing_accounts WHERE stripe_customer_id = :c",
        c=drift.extra_customer,
    )
    assert account["deleted"] is True
    pm = one(db, "SELECT status FROM payment_methods WHERE id = :i", i=drift.extra_pm)
    assert pm["status"] == "detached"
    audit = one(
        db, "SELECT action, reason, event_count FROM replay_audit WHERE id = :i", i=result.audit_id
    )
    assert audit == {
        "action": "reconcile.repair",
        "reason": "webhooks lost during the outage",
        "event_count": 9,  # what it repaired
    }

    again = service.start(ACTOR, since(), DEFAULT_KINDS)
    assert again.complete and again.drift == 0 and again.findings == []


def test_a_newer_webhook_after_repair_still_wins(
    service: ReconcileService, drift: Drift, db: Engine, fake: FakeStripe
) -> None:
    service.start(ACTOR, since(), ("subscriptions",), repair=True, reason="fix")
    newer = dict(fake.resources.objects[drift.stale_subscription], status="past_due")
    apply(db, "customer.subscription.updated", newer, fake.clock.now() + 1)
    sub = one(db, "SELECT status FROM subscriptions WHERE id = :i", i=drift.stale_subscription)
    assert sub["status"] == "past_due"


def test_repair_never_overwrites_a_newer_mirror_row(
    service: ReconcileService, drift: Drift, db: Engine, fake: FakeStripe
) -> None:
    # A webhook newer than Stripe's answer (its state changed after our page was served).
    newer = dict(fake.resources.objects[drift.stale_subscription], status="past_due")
    apply(db, "customer.subscription.updated", newer, fake.clock.now() + 60)
    result = service.start(ACTOR, since(), ("subscriptions",), repair=True, reason="fix")
    finding = next(f for f in result.findings if f["object_id"] == drift.stale_subscription)
    assert finding["outcome"] == "differing" and finding["repaired"] is False
    sub = one(db, "SELECT status FROM subscriptions WHERE id = :i", i=drift.stale_subscription)
    assert sub["status"] == "past_due"


def test_an_interrupted_run_resumes_from_its_cursor(
    service: ReconcileService, drift: Drift, fake: FakeStripe
) -> None:
    first = service.start(ACTOR, since(), DEFAULT_KINDS, max_pages=2)
    assert first.stopped == "max_pages" and not first.complete
    fake.fail_next("500", times=3, on="GET /v1/")
    failed = service.resume(ACTOR, max_pages=1)
    assert failed.stopped == "error" and not failed.complete
    rest = service.resume(ACTOR)
    assert rest.complete and rest.run_id == first.run_id
    assert outcomes(rest) == drift.expected()
    with pytest.raises(ReconcileRefused, match="no unfinished"):
        service.resume(ACTOR)


def test_subscription_items_are_compared_and_repaired_as_a_set(
    service: ReconcileService, drift: Drift, db: Engine, fake: FakeStripe
) -> None:
    sub = fake.resources.objects[drift.stale_subscription]
    sub["status"] = "trialing"  # only its item's quantity differs now
    sub["items"]["data"][0]["quantity"] = 3
    result = service.start(ACTOR, since(), ("subscriptions",))
    finding = next(f for f in result.findings if f["object_id"] == drift.stale_subscription)
    fields = {d["field"]: d for d in finding["fields"]}
    assert sorted(fields) == ["items", "quantity"]
    assert [i["quantity"] for i in fields["items"]["mirror"]] == [1]
    assert [i["quantity"] for i in fields["items"]["stripe"]] == [3]

    service.start(ACTOR, since(), ("subscriptions",), repair=True, reason="fix")
    item = one(
        db, "SELECT quantity FROM subscription_items WHERE subscription_id = :s", s=sub["id"]
    )
    assert item["quantity"] == 3
    assert service.start(ACTOR, since(), ("subscriptions",)).drift == 0


def test_payment_methods_are_listed_only_for_customers_written_in_the_window(
    service: ReconcileService, drift: Drift, db: Engine, fake: FakeStripe
) -> None:
    with db.begin() as conn:
        conn.execute(
            text("UPDATE billing_accounts SET updated_at = :at WHERE stripe_customer_id = :c"),
            {"at": utcnow() - timedelta(days=30), "c": drift.renamed_customer},
        )
    service.start(ACTOR, since(), ("payment_methods",))
    listed = {p.get("customer") for path, p in fake.resources.lists.list_calls}
    assert drift.same_customer in listed  # its payment methods were written in the window
    assert drift.missing_customer not in listed  # not in the mirror at all
    assert drift.renamed_customer not in listed  # nothing of it written in the window


def test_products_and_prices_come_from_the_same_table(
    service: ReconcileService, db: Engine, fake: FakeStripe
) -> None:
    old = fake.clock.now() - 600
    lost = fake.resources.new("product", "prod", name="Pro plan")  # its webhook was lost
    price = fake.resources.new("price", "price", product=lost["id"], unit_amount=1200)
    apply(db, "price.created", price, old)
    fake.resources.objects[price["id"]] = {"id": price["id"], "object": "price", "deleted": True}
    result = service.start(ACTOR, since(), ("products", "prices"))
    assert outcomes(result) == {
        ("products", lost["id"]): "missing",
        ("prices", price["id"]): "extra",
    }
    service.start(ACTOR, since(), ("products", "prices"), repair=True, reason="catalog sync")
    assert one(db, "SELECT deleted FROM prices WHERE id = :i", i=price["id"]) == {"deleted": True}
    assert one(db, "SELECT name FROM products WHERE id = :i", i=lost["id"]) == {"name": "Pro plan"}
    assert service.start(ACTOR, since(), ("products", "prices")).drift == 0


def test_an_older_object_the_mirror_wrote_in_the_window_is_retrieved_and_compared(
    service: ReconcileService, db: Engine, fake: FakeStripe
) -> None:
    now = fake.clock.now()
    cus = customer(fake, "org_old", "old@example.com")
    sub = fake.resources.billing.new_subscription(cus["id"], "price_pro_month")
    sub["created"] = now - 40 * 86400  # before the window: Stripe's list leaves it out
    apply(db, "customer.subscription.updated", {**sub, "status": "past_due"}, now - 600)
    result = service.start(ACTOR, since(), ("subscriptions",))
    assert outcomes(result) == {("subscriptions", sub["id"]): "differing"}
    assert fake.calls("GET", f"/v1/subscriptions/{sub['id']}") == 1  # confirmed by retrieve
    service.start(ACTOR, since(), ("subscriptions",), repair=True, reason="fix")
    assert one(db, "SELECT status FROM subscriptions WHERE id = :i", i=sub["id"]) == {
        "status": "active"
    }


def test_an_object_whose_repair_fails_is_reported_and_the_rest_repaired(
    drift: Drift, db: Engine, stripe_settings: Settings
) -> None:
    def broken(unit: Unit, event: EventEnvelope) -> None:
        REGISTRY[event.type].handler(unit, event)  # writes, then fails: the savepoint undoes it
        raise KeyError("boom")

    registry = {**REGISTRY, "customer.subscription.updated": Registration(broken)}
    list_page, retrieve = gateway_reads(make_gateway(stripe_settings), retry_delay=0.01)
    service = ReconcileService(db, list_page, retrieve, DEPS, page_size=2, registry=registry)
    result = service.start(ACTOR, since(), DEFAULT_KINDS, repair=True, reason="fix")
    assert result.complete and result.failed == 1 and result.repaired == 8
    failed = [f for f in result.findings if f["outcome"] == "failed"]
    assert failed == [
        {
            "kind": "subscriptions",
            "object_id": drift.stale_subscription,
            "outcome": "failed",
            "fields": [{"field": "error", "mirror": None, "stripe": "KeyError"}],
            "repaired": False,
        }
    ]
    sub = one(db, "SELECT status FROM subscriptions WHERE id = :i", i=drift.stale_subscription)
    assert sub["status"] == "trialing"  # its half-done repair was rolled back


def test_coupons_and_credit_notes_come_from_the_same_table(
    service: ReconcileService, db: Engine, fake: FakeStripe
) -> None:
    old = fake.clock.now() - 600
    lost = fake.resources.new("coupon", "co", percent_off=20.0)  # its webhook was lost
    gone = fake.resources.new("coupon", "co", percent_off=10.0)
    apply(db, "coupon.created", gone, old)
    fake.resources.objects[gone["id"]] = {"id": gone["id"], "object": "coupon", "deleted": True}
    note = fake.resources.new("credit_note", "cn", status="void")
    apply(db, "credit_note.created", {**note, "status": "issued"}, old)
    kinds = ("coupons", "credit_notes")
    result = service.start(ACTOR, since(), kinds)
    assert outcomes(result) == {
        ("coupons", lost["id"]): "missing",
        ("coupons", gone["id"]): "extra",
        ("credit_notes", note["id"]): "differing",
    }
    assert service.start(ACTOR, since(), kinds, repair=True, reason="sync").repaired == 3
    assert one(db, "SELECT deleted FROM coupons WHERE id = :i", i=gone["id"]) == {"deleted": True}
    assert one(db, "SELECT status FROM credit_notes WHERE id = :i", i=note["id"]) == {
        "status": "void"
    }
    assert service.start(ACTOR, since(), kinds).drift == 0


def test_a_404_for_a_kind_stripe_never_deletes_is_reported_not_applied(
    service: ReconcileService, db: Engine, fake: FakeStripe
) -> None:
    note = fake.resources.new("credit_note", "cn", status="issued")
    apply(db, "credit_note.created", note, fake.clock.now() - 600)
    del fake.resources.objects[note["id"]]
    report = service.start(ACTOR, since(), ("credit_notes",))
    assert outcomes(report) == {("credit_notes", note["id"]): "extra"}
    result = service.start(ACTOR, since(), ("credit_notes",), repair=True, reason="sync")
    assert outcomes(result) == {("credit_notes", note["id"]): "failed"}
    assert result.findings[0]["fields"][0]["stripe"] == "NoDeletion"
    assert one(db, "SELECT status FROM credit_notes WHERE id = :i", i=note["id"]) == {
        "status": "issued"
    }


def test_a_page_cursor_stripe_deleted_meanwhile_restarts_the_kind_and_finds_it_extra(
    service: ReconcileService, db: Engine, fake: FakeStripe
) -> None:
    old = fake.clock.now() - 600
    subs = []
    cus = customer(fake, "org_c", "c@example.com")
    for _ in range(3):
        sub = fake.resources.billing.new_subscription(cus["id"], "price_pro_month")
        apply(db, "customer.subscription.created", sub, old)
        subs.append(sub)
    first = service.start(ACTOR, since(), ("subscriptions",), max_pages=1)  # 2 of 3 compared
    assert first.seen == 2 and first.drift == 0
    run = one(db, "SELECT cursor FROM reconcile_runs WHERE id = :i", i=first.run_id)
    cursor = run["cursor"]
    assert cursor in {s["id"] for s in subs}
    del fake.resources.objects[cursor]  # Stripe deleted the page's last object meanwhile
    rest = service.resume(ACTOR)
    assert rest.complete
    assert outcomes(rest) == {("subscriptions", cursor): "extra"}
