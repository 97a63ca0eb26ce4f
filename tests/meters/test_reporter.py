"""The reporter against Postgres and the fake Stripe: billed once, whatever fails when."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from domain.settings import Settings
from domain.types import utcnow
from domain.usage import rejected
from domain.usage.records import UsageRecord
from domain.usage.reporting import MeterEvent
from tests.meters.conftest import METER, link, usage
from tests.support.fake_stripe import FakeStripe
from workers.meters.reporter import MeterReporter, ReporterConfig, SessionCache
from workers.runtime import Runtime
from workers.stripe_gateway import StripeGateway, make_gateway

Make = Callable[..., MeterReporter]


def statuses(rt: Runtime) -> dict[str, tuple[str, str | None]]:
    with rt.sessions() as s:
        rows = s.execute(select(UsageRecord.id, UsageRecord.report_status, UsageRecord.report_id))
        return {r[0]: (r[1], r[2]) for r in rows}


def test_pending_usage_is_billed_once_per_account_meter_and_bucket(
    runtime: Runtime, fake_stripe: FakeStripe, make_reporter: Make
) -> None:
    past = utcnow() - timedelta(minutes=10)
    with runtime.sessions.begin() as s:
        link(s, "acct_a", "cus_a")
        link(s, "acct_b", "cus_b")
        usage(s, "acct_a", 5, past, qty=3)
        usage(s, "acct_b", 2, past)
        usage(s, "acct_a", 1, utcnow(), prefix="open")  # its bucket is still open
    outcome = make_reporter().report_once()
    assert outcome.events_sent == 2 and outcome.reported_records == 7
    assert fake_stripe.meters.totals() == {("cus_a", METER): 15, ("cus_b", METER): 2}
    assert fake_stripe.meters.stream_requests == 1
    st = statuses(runtime)
    assert st["open-acct_a-0"] == ("pending", None)
    assert {v[0] for k, v in st.items() if k.startswith("r-")} == {"reported"}
    # A second pass has nothing to send; nothing billed again.
    assert make_reporter().report_once().events_sent == 0
    assert fake_stripe.meters.totals()[("cus_a", METER)] == 15


def test_a_crash_after_the_send_resends_the_same_identifier_and_is_not_billed_twice(
    runtime: Runtime, fake_stripe: FakeStripe, make_reporter: Make
) -> None:
    past = utcnow() - timedelta(minutes=10)
    with runtime.sessions.begin() as s:
        link(s, "acct_a", "cus_a")
        usage(s, "acct_a", 4, past, qty=2)

    def crash(_: Sequence[MeterEvent]) -> None:
        raise RuntimeError("worker killed before the commit")

    with pytest.raises(RuntimeError):
        make_reporter(after_send=crash).report_once()
    assert fake_stripe.meters.totals() == {("cus_a", METER): 8}
    claimed = {v for v in statuses(runtime).values()}
    assert len(claimed) == 1 and next(iter(claimed))[0] == "pending"  # claimed, not reported
    with runtime.sessions.begin() as s:  # a late record of the same bucket: a group of its own
        usage(s, "acct_a", 1, past, prefix="late", qty=5)
    outcome = make_reporter().report_once()
    assert outcome.reported_records == 5
    assert len(fake_stripe.meters.billed) == 2  # the first identifier again (deduplicated) + late
    assert fake_stripe.meters.totals() == {("cus_a", METER): 13}
    assert {v[0] for v in statuses(runtime).values()} == {"reported"}


def test_an_expired_session_is_renewed(
    runtime: Runtime, fake_stripe: FakeStripe, make_reporter: Make
) -> None:
    past = utcnow() - timedelta(minutes=10)
    reporter = make_reporter()
    with runtime.sessions.begin() as s:
        link(s, "acct_a", "cus_a")
        usage(s, "acct_a", 1, past)
    reporter.report_once()
    assert reporter.session_cache.created == 1
    fake_stripe.meters.expire_sessions()  # Stripe expires it early: 401, renewed, sent
    with runtime.sessions.begin() as s:
        usage(s, "acct_a", 1, past, prefix="second")
    assert reporter.report_once().reported_records == 1
    assert reporter.session_cache.created == 2
    assert fake_stripe.meters.totals() == {("cus_a", METER): 2}


def test_the_session_token_is_reused_then_renewed_before_it_expires(
    fake_stripe: FakeStripe, gateway: StripeGateway
) -> None:
    now = [utcnow()]
    fake_stripe.clock.freeze(now[0].timestamp())
    cache = SessionCache(gateway, clock=lambda: now[0])
    first = cache.token()
    now[0] += timedelta(minutes=12)
    assert cache.token() == first and cache.created == 1
    now[0] += timedelta(minutes=1, seconds=30)  # 13:30 of 15 minutes: inside the margin
    assert cache.token() != first and cache.created == 2


def test_more_than_100_events_go_in_requests_of_100(
    runtime: Runtime, fake_stripe: FakeStripe, make_reporter: Make
) -> None:
    past = utcnow() - timedelta(minutes=10)
    with runtime.sessions.begin() as s:
        for n in range(250):
            link(s, f"acct_{n}", f"cus_{n}")
            usage(s, f"acct_{n}", 1, past)
    outcome = make_reporter().report_once()
    assert outcome.events_sent == 250 and fake_stripe.meters.stream_requests == 3


def test_transient_errors_are_retried_and_a_rejection_is_listed_and_replayable(
    runtime: Runtime, fake_stripe: FakeStripe, make_reporter: Make
) -> None:
    past = utcnow() - timedelta(minutes=10)
    with runtime.sessions.begin() as s:
        link(s, "acct_a", "cus_a")
        link(s, "acct_x", "cus_x")
        usage(s, "acct_a", 2, past)
        s.add(
            UsageRecord(
                id="bad-1",
                account_ref="acct_x",
                meter="no_such_meter",
                quantity=1,
                occurred_at=past,
                source="usage",
                received_at=past,
                report_status="pending",
            )
        )
    fake_stripe.fail_next("500", times=2, on="POST /v2/billing/meter_event_stream")
    outcome = make_reporter().report_once()
    # The batch was refused for good (unknown meter): resent one event per request.
    assert outcome.reported_records == 2 and outcome.rejected_records == 1
    assert fake_stripe.meters.totals() == {("cus_a", METER): 2}
    with runtime.sessions() as s:
        dead = rejected.list_rejected(s)
    assert [d.id for d in dead] == ["bad-1"] and "billing_meter_not_found" in (dead[0].reason or "")
    fake_stripe.meters.add_meter("no_such_meter")  # the meter is created: replay
    with runtime.sessions.begin() as s:
        assert rejected.replay_rejected(s, ["bad-1"]) == 1
    assert make_reporter().report_once().reported_records == 1
    assert fake_stripe.meters.totals()[("cus_x", "no_such_meter")] == 1


def test_transient_errors_past_the_retries_leave_records_claimed(
    runtime: Runtime, fake_stripe: FakeStripe, make_reporter: Make
) -> None:
    past = utcnow() - timedelta(minutes=10)
    with runtime.sessions.begin() as s:
        link(s, "acct_a", "cus_a")
        usage(s, "acct_a", 2, past)
    fake_stripe.fail_next("500", times=3, on="POST /v2/billing/meter_event_stream")
    outcome = make_reporter(retries=3).report_once()
    assert outcome.transient_failure and outcome.reported_records == 0
    assert make_reporter().report_once().reported_records == 2
    assert fake_stripe.meters.totals() == {("cus_a", METER): 2}


def test_accounts_without_a_customer_wait_then_are_rejected(
    runtime: Runtime, fake_stripe: FakeStripe, make_reporter: Make
) -> None:
    with runtime.sessions.begin() as s:
        usage(s, "acct_new", 1, utcnow() - timedelta(minutes=10), prefix="recent")
        usage(s, "acct_new", 1, utcnow() - timedelta(days=4), prefix="old")
        usage(s, "acct_new", 1, utcnow() - timedelta(days=36), prefix="ancient")
    outcome = make_reporter().report_once()
    assert outcome.waiting_records == 1 and outcome.rejected_records == 2
    st = statuses(runtime)
    assert st["recent-acct_new-0"][0] == "pending" and st["old-acct_new-0"][0] == "rejected"
    with runtime.sessions.begin() as s:
        link(s, "acct_new", "cus_new")
    assert make_reporter().report_once().reported_records == 1
    assert fake_stripe.meters.totals() == {("cus_new", METER): 1}


def test_the_v1_fallback_reports_once(
    runtime: Runtime, fake_stripe: FakeStripe, make_reporter: Make
) -> None:
    past = utcnow() - timedelta(minutes=10)
    with runtime.sessions.begin() as s:
        link(s, "acct_a", "cus_a")
        usage(s, "acct_a", 3, past, qty=2)
        usage(s, "acct_a", 1, past - timedelta(minutes=5), prefix="earlier")

    def crash(_: Sequence[MeterEvent]) -> None:
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        make_reporter(api="v1", after_send=crash).report_once()
    outcome = make_reporter(api="v1").report_once()
    assert outcome.reported_records == 4
    assert fake_stripe.meters.totals() == {("cus_a", METER): 7}
    assert {b.api for b in fake_stripe.meters.billed} == {"v1"}
    assert fake_stripe.calls("POST", "/v2/") == 0


def test_the_sweeper_asks_for_a_report_every_interval_while_usage_is_pending(
    runtime: Runtime,
) -> None:
    from workers.celery_app import REPORT_USAGE
    from workers.meters import run

    sent: list[str] = []

    class App:
        def send_task(self, name: str, **_: object) -> None:
            sent.append(name)

    app = App()
    run._last_trigger[0] = 0.0
    interval = runtime.settings.usage_report_interval_seconds
    assert not run.trigger_report(runtime, app, now=10_000.0)  # type: ignore[arg-type]
    with runtime.sessions.begin() as s:
        usage(s, "acct_a", 1, utcnow())
    assert not run.trigger_report(runtime, app, now=10_000.0 + interval / 2)  # type: ignore[arg-type]
    assert run.trigger_report(runtime, app, now=10_000.0 + interval)  # type: ignore[arg-type]
    assert sent == [REPORT_USAGE]


def test_a_revoked_token_is_renewed_and_a_wrong_key_keeps_usage_pending(
    runtime: Runtime, fake_stripe: FakeStripe, make_reporter: Make, settings: Settings
) -> None:
    past = utcnow() - timedelta(minutes=10)
    with runtime.sessions.begin() as s:
        link(s, "acct_a", "cus_a")
        usage(s, "acct_a", 2, past)
    wrong = make_gateway(settings.model_copy(update={"stripe_api_key": SecretStr("sk_test_x")}))
    outcome = MeterReporter(runtime.sessions, wrong, ReporterConfig()).report_once()
    assert outcome.transient_failure and outcome.rejected_records == 0
    assert {v[0] for v in statuses(runtime).values()} == {"pending"}
    reporter = make_reporter()
    reporter.session_cache._token = "revoked"  # a token Stripe does not know: 401, renewed
    reporter.session_cache._expires_at = utcnow() + timedelta(minutes=10)
    assert reporter.report_once().reported_records == 2
    assert fake_stripe.meters.totals() == {("cus_a", METER): 2}


def test_waiting_usage_of_unlinked_accounts_never_starves_linked_ones(
    runtime: Runtime, fake_stripe: FakeStripe, make_reporter: Make
) -> None:
    with runtime.sessions.begin() as s:
        usage(s, "acct_new", 5, utcnow() - timedelta(hours=2), prefix="early")
        link(s, "acct_a", "cus_a")
        usage(s, "acct_a", 1, utcnow() - timedelta(minutes=10))
    outcome = make_reporter(max_records=3).report_once()
    assert outcome.reported_records == 1 and outcome.waiting_records == 5
    assert fake_stripe.meters.totals() == {("cus_a", METER): 1}
