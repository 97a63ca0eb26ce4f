"""Stripe signature scheme: the full matrix of DESIGN.md, on raw bytes."""

from __future__ import annotations

import time

import pytest

from ingest.signature import SignatureError, compute_signature, sign_header, verify

SECRET = b"whsec_primary"
ROLLED = b"whsec_rolled"
BODY = b'{"id":"evt_1","type":"invoice.paid"}'
NOW = 1_800_000_000


def header(*parts: str) -> str:
    return ",".join(parts)


def v1(secret: bytes = SECRET, body: bytes = BODY, t: int = NOW) -> str:
    return f"v1={compute_signature(secret, t, body)}"


def test_valid_signature_is_accepted() -> None:
    verify(BODY, header(f"t={NOW}", v1()), [SECRET], now=NOW)


def test_second_of_two_secrets_is_accepted() -> None:
    verify(BODY, header(f"t={NOW}", v1(ROLLED)), [SECRET, ROLLED], now=NOW)


def test_any_of_several_v1_signatures_may_match() -> None:
    verify(BODY, header(f"t={NOW}", "v1=deadbeef", v1()), [SECRET], now=NOW)


@pytest.mark.parametrize(
    ("sig_header", "code"),
    [
        pytest.param(header(f"t={NOW}", v1(body=BODY + b" ")), "no_valid_signature", id="tampered"),
        pytest.param(
            header(f"t={NOW}", v1(b"whsec_other")), "no_valid_signature", id="wrong-secret"
        ),
        pytest.param(
            header(f"t={NOW}", f"v0={compute_signature(SECRET, NOW, BODY)}"),
            "no_valid_signature",
            id="v0-only",
        ),
        pytest.param(None, "missing_signature", id="missing"),
        pytest.param("", "missing_signature", id="empty"),
        pytest.param("garbage", "invalid_signature_header", id="garbled"),
        pytest.param(header("t=abc", v1()), "invalid_signature_header", id="bad-timestamp"),
        pytest.param(v1(), "invalid_signature_header", id="no-timestamp"),
        pytest.param(
            header(f"t={NOW - 301}", v1(t=NOW - 301)), "timestamp_out_of_tolerance", id="301s-old"
        ),
        pytest.param(
            header(f"t={NOW + 301}", v1(t=NOW + 301)),
            "timestamp_out_of_tolerance",
            id="301s-future",
        ),
    ],
)
def test_invalid_signatures_are_refused(sig_header: str | None, code: str) -> None:
    with pytest.raises(SignatureError) as info:
        verify(BODY, sig_header, [SECRET, ROLLED], tolerance=300, now=NOW)
    assert info.value.code == code


def test_timestamps_at_the_tolerance_edge_are_accepted() -> None:
    for t in (NOW - 300, NOW + 300):
        verify(BODY, header(f"t={t}", v1(t=t)), [SECRET], tolerance=300, now=NOW)


def test_sign_header_round_trips_with_verify() -> None:
    verify(BODY, sign_header(SECRET, BODY), [SECRET], now=time.time())
