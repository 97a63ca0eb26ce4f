"""`billing usage report --once | dead | replay | reconcile` against Postgres and the fake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import orjson
import pytest
import structlog
from sqlalchemy import update
from typer.testing import CliRunner

from domain.types import utcnow
from domain.usage.records import UsageRecord
from tests.meters.conftest import METER, link, usage
from tests.support.fake_stripe import FakeStripe
from workers.cli import cli
from workers.runtime import Runtime
from workers.stripe_gateway import StripeGateway


@pytest.fixture(autouse=True)
def wired(
    runtime: Runtime, gateway: StripeGateway, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.stdlib.LoggerFactory())
    monkeypatch.setattr("workers.runtime.get_runtime", lambda: runtime)
    monkeypatch.setattr("workers.runtime.get_gateway", lambda: gateway)
    yield
    structlog.configure(**saved)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout


def test_report_once_then_reconcile_matches_then_finds_a_difference(
    runtime: Runtime, fake_stripe: FakeStripe
) -> None:
    past = utcnow() - timedelta(minutes=10)
    with runtime.sessions.begin() as s:
        link(s, "acct_a", "cus_a")
        link(s, "acct_b", "cus_b")
        usage(s, "acct_a", 3, past, qty=4)
        usage(s, "acct_b", 1, past, qty=9)
    code, output = invoke("usage", "report", "--once")
    assert code == 0 and "records reported 4" in output
    code, output = invoke("usage", "reconcile", "--since", "2d")
    assert code == 0 and "matches" in output
    # Stripe counted something we did not report (another integration, a manual event).
    fake_stripe.meters.create_event_v1(
        {
            "event_name": METER,
            "identifier": "manual-1",
            "payload": {"stripe_customer_id": "cus_b", "value": "5"},
        }
    )
    # And we think we reported a record Stripe never saw.
    with runtime.sessions.begin() as s:
        s.execute(update(UsageRecord).where(UsageRecord.id == "r-acct_a-0").values(quantity=6))
    code, output = invoke("usage", "reconcile", "--since", "2d", "--json")
    assert code == 1
    diffs = {(d["account_ref"], d["customer"]): d for d in orjson.loads(output)["differences"]}
    assert diffs[("acct_a", "cus_a")]["ours"] == 14 and diffs[("acct_a", "cus_a")]["stripe"] == 12
    assert diffs[("acct_b", "cus_b")]["delta"] == 5
    code, output = invoke("usage", "reconcile")
    assert code == 1 and "acct_a" in output and "cus_b" in output


def test_reconcile_with_meter_ids_from_settings(
    runtime: Runtime, fake_stripe: FakeStripe, gateway: StripeGateway
) -> None:
    from workers.meters.reconcile import reconcile

    [meter] = fake_stripe.meters.list_meters({})["data"]
    past = utcnow() - timedelta(minutes=10)
    with runtime.sessions.begin() as s:
        link(s, "acct_a", "cus_a")
        usage(s, "acct_a", 2, past)
    invoke("usage", "report", "--once")
    diffs, unknown = reconcile(
        runtime.sessions, gateway, utcnow() - timedelta(days=2), utcnow(), {METER: meter["id"]}
    )
    assert diffs == [] and unknown == []
    diffs, unknown = reconcile(
        runtime.sessions, gateway, utcnow() - timedelta(days=2), utcnow(), {"other": "mtr_x"}
    )
    assert unknown == [METER]


def test_reconcile_pages_through_every_summary(runtime: Runtime, fake_stripe: FakeStripe) -> None:
    # Usage on four days; Stripe answers one daily summary per page, so a reconcile that
    # read only the first page would miss three days and report differences.
    fake_stripe.meters.summary_page_size = 1
    with runtime.sessions.begin() as s:
        link(s, "acct_a", "cus_a")
        for days in range(4):
            usage(s, "acct_a", 1, utcnow() - timedelta(days=days, minutes=10), prefix=f"d{days}")
    assert invoke("usage", "report", "--once")[0] == 0
    before = fake_stripe.meters.summary_requests
    code, output = invoke("usage", "reconcile", "--since", "4d")
    assert code == 0 and "matches" in output, output
    assert fake_stripe.meters.summary_requests - before == 5  # five days, one per page


def test_dead_lists_rejected_usage_and_replay_sends_it(
    runtime: Runtime, fake_stripe: FakeStripe
) -> None:
    past = utcnow() - timedelta(minutes=10)
    with runtime.sessions.begin() as s:
        link(s, "acct_a", "cus_a")
        usage(s, "acct_a", 1, past)
        s.add(
            UsageRecord(
                id="bad-1",
                account_ref="acct_a",
                meter="later_meter",
                quantity=3,
                occurred_at=past,
                source="usage",
                received_at=past,
                report_status="pending",
            )
        )
    invoke("usage", "report", "--once")
    code, output = invoke("usage", "dead")
    assert code == 0 and "bad-1" in output and "billing_meter_not_found" in output
    [row] = orjson.loads(invoke("usage", "dead", "--json")[1])
    assert row["id"] == "bad-1" and row["meter"] == "later_meter"
    fake_stripe.meters.add_meter("later_meter")
    code, output = invoke("usage", "replay", "bad-1")
    assert code == 0 and "replayed 1" in output
    assert invoke("usage", "replay", "no-such-record")[0] == 1
    invoke("usage", "report", "--once")
    assert orjson.loads(invoke("usage", "dead", "--json")[1]) == []
    assert fake_stripe.meters.totals()[("cus_a", "later_meter")] == 3
