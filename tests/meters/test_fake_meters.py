"""The fake Stripe's Billing Meters, as the reporter relies on them (no database)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.fake_stripe import API_KEY, FakeStripe

KEY = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    fake = FakeStripe().start()
    fake.meters.add_meter("api_calls")
    yield fake
    fake.stop()


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def event(identifier: str, value: object = "3", ts: float | None = None, **over: object) -> dict:
    return {
        "event_name": "api_calls",
        "identifier": identifier,
        "payload": {"stripe_customer_id": "cus_1", "value": value},
        "timestamp": iso(time.time() if ts is None else ts),
        **over,
    }


def session_token(fake: FakeStripe) -> str:
    answer = httpx.post(f"{fake.url}/v2/billing/meter_event_session", headers=KEY).json()
    assert answer["object"] == "v2.billing.meter_event_session"
    return str(answer["authentication_token"])


def stream(fake: FakeStripe, token: str, events: list[dict]) -> httpx.Response:
    return httpx.post(
        f"{fake.url}/v2/billing/meter_event_stream",
        json={"events": events},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_the_stream_bills_each_identifier_once_and_validates(fake: FakeStripe) -> None:
    token = session_token(fake)
    assert stream(fake, token, [event("a"), event("b")]).status_code == 200
    assert stream(fake, token, [event("a")]).status_code == 200  # duplicate: not billed
    assert fake.meters.totals() == {("cus_1", "api_calls"): 6}
    day = 86400
    bad = [
        [event("c", ts=time.time() - 36 * day)],
        [event("c", ts=time.time() + 3600)],
        [event("c", value="1.5")],
        [event("c", event_name="nope")],
        [event("c", payload={"value": "1"})],
        [event(f"e{i}") for i in range(101)],
    ]
    for events in bad:
        answer = stream(fake, token, events)
        assert answer.status_code == 400, events
    assert fake.meters.totals() == {("cus_1", "api_calls"): 6}
    assert stream(fake, "wrong", [event("d")]).status_code == 401
    assert httpx.post(f"{fake.url}/v2/billing/meter_event_session").status_code == 401


def test_a_session_expires_after_15_minutes(fake: FakeStripe) -> None:
    fake.clock.freeze()
    token = session_token(fake)
    fake.clock.advance(15 * 60)
    answer = stream(fake, token, [event("a", ts=fake.clock.time())])
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "temporary_session_expired"


def test_v1_meter_events_and_daily_summaries(fake: FakeStripe) -> None:
    now = int(time.time())
    form = {
        "event_name": "api_calls",
        "identifier": "v1-a",
        "payload[stripe_customer_id]": "cus_1",
        "payload[value]": "4",
        "timestamp": str(now),
    }
    for _ in range(2):
        assert httpx.post(f"{fake.url}/v1/billing/meter_events", data=form, headers=KEY).is_success
    [meter] = httpx.get(f"{fake.url}/v1/billing/meters", headers=KEY).json()["data"]
    start = now - now % 86400
    summaries = httpx.get(
        f"{fake.url}/v1/billing/meters/{meter['id']}/event_summaries",
        params={
            "customer": "cus_1",
            "start_time": start - 86400,
            "end_time": start + 86400,
            "value_grouping_window": "day",
        },
        headers=KEY,
    ).json()["data"]
    assert [s["aggregated_value"] for s in summaries] == [0.0, 4.0]


def test_summaries_page_by_limit_and_starting_after(fake: FakeStripe) -> None:
    [meter] = httpx.get(f"{fake.url}/v1/billing/meters", headers=KEY).json()["data"]
    now = int(time.time())
    start = now - now % 86400
    url = f"{fake.url}/v1/billing/meters/{meter['id']}/event_summaries"
    params: dict[str, str | int] = {
        "customer": "cus_1",
        "start_time": start - 4 * 86400,
        "end_time": start + 86400,
        "value_grouping_window": "day",
        "limit": 2,
    }
    seen: list[int] = []
    after: str | None = None
    for _ in range(5):
        page = httpx.get(
            url, params={**params, **({"starting_after": after} if after else {})}, headers=KEY
        ).json()
        seen += [s["start_time"] for s in page["data"]]
        if not page["has_more"]:
            break
        after = page["data"][-1]["id"]
    assert seen == [start - k * 86400 for k in (4, 3, 2, 1, 0)]
    bad = httpx.get(url, params={**params, "starting_after": "mtrusg_nope"}, headers=KEY)
    assert bad.status_code == 400
