"""Hostile Stripe-Signature headers: bounded before parsing, always a JSON 400, never a 500."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine
from starlette.testclient import TestClient

from domain.settings import Settings
from ingest.app import create_app
from ingest.signature import (
    MAX_HEADER_LENGTH,
    MAX_V1_SIGNATURES,
    SignatureError,
    compute_signature,
    verify,
)
from tests.support.db import count
from tests.support.env import WEBHOOK_SECRET
from tests.support.stripe_events import event_body

SECRET = b"whsec_primary"
BODY = b'{"id":"evt_1","type":"invoice.paid"}'
NOW = 1_800_000_000
GOOD = f"v1={compute_signature(SECRET, NOW, BODY)}"


class NoSplit(str):
    """A header value that fails the test if anyone splits it."""

    __slots__ = ()

    def split(self, *args: object, **kwargs: object) -> list[str]:  # type: ignore[override]
        raise AssertionError("an oversized header was split")


def refused(header: str) -> SignatureError:
    with pytest.raises(SignatureError) as info:
        verify(BODY, header, [SECRET], tolerance=300, now=NOW)
    return info.value


def test_a_header_over_the_length_bound_is_refused_before_it_is_split() -> None:
    padding = ",".join(["v0=" + "0" * 64] * (MAX_HEADER_LENGTH // 60))
    header = NoSplit(f"t={NOW},{GOOD},{padding}")
    assert len(header) > MAX_HEADER_LENGTH
    assert refused(header).code == "invalid_signature_header"


def test_too_many_v1_entries_are_refused_even_if_one_matches() -> None:
    bogus = ",".join(f"v1={i:064x}" for i in range(MAX_V1_SIGNATURES))
    header = f"t={NOW},{bogus},{GOOD}"
    assert len(header) <= MAX_HEADER_LENGTH
    assert refused(header).code == "invalid_signature_header"


def test_the_bounds_still_admit_a_realistic_header() -> None:
    others = ",".join(f"v1={i:064x}" for i in range(MAX_V1_SIGNATURES - 1))
    verify(BODY, f"t={NOW},{others},{GOOD},v0={'0' * 64}", [SECRET], now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(f"t={NOW},v1=\xe9", id="non-ascii-v1"),
        pytest.param(f"t={NOW},v1=" + "\xe9" * 64, id="non-ascii-64"),
        pytest.param(f"t={NOW},v1=\u0660", id="unicode-digit-v1"),
    ],
)
def test_non_ascii_signatures_are_refused_not_crashed(header: str) -> None:
    assert refused(header).code == "no_valid_signature"


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param("1" + "0" * 400, id="400-digits"),
        pytest.param("1" + "0" * 20, id="past-int64"),
        pytest.param("-" + "9" * 30, id="huge-negative"),
        pytest.param("1_800_000_000", id="underscores"),
        pytest.param("\u0661\u0668\u0660\u0660", id="arabic-indic-digits"),
        pytest.param("+1800000000", id="plus-sign"),
        pytest.param(" 1800000000", id="space"),
    ],
)
def test_malformed_timestamps_are_refused_not_crashed(timestamp: str) -> None:
    assert refused(f"t={timestamp},{GOOD}").code == "invalid_signature_header"


# The same through the endpoint: a JSON 400, counted, nothing stored.


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, publish=lambda ids: None)) as c:
        yield c


def _rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("billing_webhook_rejected_total", {"reason": reason}) or 0.0


@pytest.mark.parametrize(
    ("make_header", "code"),
    [
        pytest.param(lambda t, sig: f"t={t},v1=\xe9", "no_valid_signature", id="non-ascii-v1"),
        pytest.param(
            lambda t, sig: f"t=1{'0' * 400},{sig}", "invalid_signature_header", id="400-digit-t"
        ),
        pytest.param(
            lambda t, sig: f"t={t}," + ",".join([sig] * 100_000),
            "invalid_signature_header",
            id="100k-v1-entries",
        ),
    ],
)
def test_garbage_signature_headers_get_a_counted_json_400(
    client: TestClient,
    db: Engine,
    make_header,
    code: str,  # type: ignore[no-untyped-def]
) -> None:
    _, body = event_body()
    t = int(time.time())
    sig = f"v1={compute_signature(WEBHOOK_SECRET.encode(), t, body)}"
    before = _rejected(code)
    response = client.post(
        "/webhooks/stripe",
        content=body,
        headers={"Stripe-Signature": make_header(t, sig).encode("latin-1")},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == code
    assert response.json()["message"]
    assert _rejected(code) == before + 1
    assert count(db, "stripe_events") == 0
