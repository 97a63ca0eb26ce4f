"""Hypothesis against POST /webhooks/stripe on a live server: generated Stripe-Signature
headers (valid ones computed with the real secret, garbage, non-ASCII, huge numbers, many
entries, stale or future timestamps, other secrets) and bodies (bytes, text, event-shaped
JSON with odd ids, types and numbers).

Properties: never a 500; a row is stored only when the signature was valid; a valid signature
over a well-formed event is acked (200) and stored; with the database up nothing answers 503
(a 503 makes Stripe retry for days).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from domain.signing import compute_signature
from tests.support.env import WEBHOOK_SECRET

pytestmark = [pytest.mark.fuzz, pytest.mark.slow, pytest.mark.timeout(600)]

OTHER_SECRET = b"whsec_not_configured_0123456789"
ACCEPTED = {200}
REFUSED = {400, 413, 431}  # 431: a header over the server's limit, refused before the app


@dataclass(frozen=True)
class Delivery:
    """A request and what a correct endpoint must do with it."""

    headers: dict[str, bytes]
    body: bytes
    signed: bool  # some v1 entry is a valid signature of this body, in tolerance
    body_kind: str  # CLEAN, INVALID or EDGE (see event_bodies)


# --- bodies ------------------------------------------------------------------------------------

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_ids = st.one_of(
    st.from_regex(r"\Aevt_[A-Za-z0-9]{8,24}\Z"),
    st.sampled_from(["evt_\x00", "evt_nul\x00in_the_middle", "x" * 256, "é" * 255]),
    st.text(max_size=300),  # empty, NUL, non-ASCII, over 255
)
_types = st.one_of(
    st.sampled_from(["invoice.paid", "customer.updated", "fuzz.unknown_type"]),
    st.text(max_size=300),
)
_created = st.one_of(
    st.integers(min_value=0, max_value=2_000_000_000),
    st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63), -(2**63) - 1, 10**30]),
    st.integers(min_value=-(2**80), max_value=2**80),
    _json,
)


CLEAN, INVALID, EDGE = "clean", "invalid", "edge"


def _has_nul(value: Any) -> bool:
    """A NUL anywhere in the document, keys included (Postgres text and jsonb refuse it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


@st.composite
def event_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """Event-shaped JSON and what a signed delivery of it must get: CLEAN must be stored,
    INVALID refused (400: no usable id or type), EDGE either, but never a 500 or 503 (a value
    the database cannot hold: a NUL anywhere, `created` beyond 64 bits, an over-long object
    id/type)."""
    obj = draw(st.dictionaries(st.text(max_size=8), _json, max_size=5))
    for key in ("id", "object"):
        if draw(st.booleans()):
            obj[key] = draw(st.one_of(st.text(max_size=300), _json))
    doc: dict[str, Any] = {
        "id": draw(_ids),
        "object": "event",
        "type": draw(_types),
        "created": draw(_created),
        "data": {"object": obj},
    }
    for key in draw(st.lists(st.sampled_from(["id", "type", "data", "created"]), max_size=2)):
        doc.pop(key, None)
    ensure_ascii = draw(st.booleans())
    body = json.dumps(doc, ensure_ascii=ensure_ascii).encode()
    event_id, event_type, created = doc.get("id"), doc.get("type"), doc.get("created")
    if not (isinstance(event_id, str) and 0 < len(event_id) <= 255) or not (
        isinstance(event_type, str) and 0 < len(event_type) <= 255
    ):
        return body, INVALID
    edge = (
        _has_nul(doc)
        or (isinstance(created, int) and not -(2**63) <= created < 2**63)
        or (isinstance(object_id := obj.get("id"), str) and len(object_id) > 255)
        or (isinstance(object_type := obj.get("object"), str) and len(object_type) > 64)
    )
    return body, EDGE if edge else CLEAN


bodies = st.one_of(
    event_bodies(),
    st.binary(max_size=500).map(lambda b: (b, INVALID)),
    st.text(max_size=200).map(lambda t: (t.encode(), INVALID)),
)

# --- signature headers -------------------------------------------------------------------------


def _no_timestamp(entry: str) -> bool:
    """A second `t=` would make even a validly signed header ambiguous: keep those out."""
    return all(part.strip().partition("=")[0] != "t" for part in entry.split(","))


_garbage_entry = st.one_of(
    st.from_regex(r"\Av1=[0-9a-f]{64}\Z"),
    st.from_regex(r"\Av0=[0-9a-f]{64}\Z"),
    st.from_regex(r"\A[a-z0-9]{1,3}=[ -~]{0,20}\Z"),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
).filter(_no_timestamp)
_huge_timestamps = st.one_of(
    st.integers(min_value=10**11, max_value=10**60).map(str),
    st.integers(max_value=-1).map(str),
    st.sampled_from(["", "abc", "1e9", "0x10", " 12", "١٢٣", "9" * 5000]),
)


# Signed kinds are listed several times: most of what can go wrong needs a valid signature.
KINDS = [
    *["valid"] * 4,
    *["valid_among_garbage"] * 2,
    "other_secret",
    "stale",
    "future",
    "garbage",
    "non_ascii",
    "non_ascii_signature",
    "huge_timestamp",
    "many_entries",
    "missing",
    "wrong_body",
]


@st.composite
def deliveries(draw: st.DrawFn) -> Delivery:
    body, body_kind = draw(bodies)
    now = int(time.time())
    secret = WEBHOOK_SECRET.encode()
    kind = draw(st.sampled_from(KINDS))
    signed = kind in ("valid", "valid_among_garbage")
    headers: dict[str, bytes] = {"Content-Type": b"application/json"}
    good = f"v1={compute_signature(secret, now, body)}"
    if kind == "valid":
        header = f"t={now},{good}"
    elif kind == "valid_among_garbage":
        entries = [good, *draw(st.lists(_garbage_entry, max_size=20))]
        entries = draw(st.permutations(entries))
        header = ",".join([f"t={now}", *entries])
    elif kind == "other_secret":
        header = f"t={now},v1={compute_signature(OTHER_SECRET, now, body)}"
    elif kind in ("stale", "future"):
        # Well past the tolerance (300 s), so the seconds between drawing and posting and a
        # replay while shrinking cannot bring it back in.
        margin = 360 + draw(st.integers(0, 10**6))
        at = now - margin if kind == "stale" else now + margin
        header = f"t={at},v1={compute_signature(secret, at, body)}"
    elif kind == "garbage":
        header = draw(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126)))
    elif kind == "non_ascii":
        header = draw(st.text(alphabet=st.characters(min_codepoint=128), min_size=1))
    elif kind == "non_ascii_signature":
        value = draw(st.text(alphabet=st.characters(min_codepoint=128), min_size=1, max_size=64))
        header = f"t={now},v1={value}"
    elif kind == "huge_timestamp":
        header = f"t={draw(_huge_timestamps)},{good}"
    elif kind == "many_entries":
        n = draw(st.integers(100, 3000))
        header = ",".join([f"t={now}", *(["v1=" + "0" * 64] * n)])
    elif kind == "wrong_body":
        header = f"t={now},v1={compute_signature(secret, now, body + b' ')}"
    else:
        header = None
    if header is not None:
        # Leading/trailing spaces are not part of a field value on the wire (HTTP strips
        # them; httpx refuses to send them), so the server can only ever see the rest.
        headers["Stripe-Signature"] = header.strip(" \t").encode("utf-8")
    return Delivery(headers, body, signed, body_kind)


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM stripe_events")).scalar_one())


def check(delivery: Delivery, url: str, engine: Engine) -> None:
    """Post one delivery and check every property of the module docstring."""
    before = _rows(engine)
    # httpx takes all-str or all-bytes headers; the values are raw bytes (some not ASCII).
    headers = {name.encode("ascii"): value for name, value in delivery.headers.items()}
    response = httpx.post(
        f"{url}/webhooks/stripe", content=delivery.body, headers=headers, timeout=10
    )
    stored = _rows(engine) - before
    assert response.status_code != 500, response.text
    assert response.status_code != 503, f"the database is up: {response.text}"
    acked = response.status_code in ACCEPTED
    if acked:
        assert stored == (0 if response.json()["duplicate"] else 1)
    else:
        assert response.status_code in REFUSED, response.text
        assert stored == 0
    if not delivery.signed or delivery.body_kind == INVALID:
        assert not acked, "acked without a valid signature over a usable event"
    elif delivery.body_kind == CLEAN:
        assert acked, response.text
    if response.status_code >= 400 and response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        assert set(response.json()) >= {"error", "message"}


@settings(
    max_examples=int(os.environ.get("FUZZ_MAX_EXAMPLES", "300")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(delivery=deliveries())
def test_webhook_never_500s_and_stores_only_signed_events(
    delivery: Delivery, fuzz_server: tuple[str, Path], pg_engine: Engine
) -> None:
    note(f"headers={delivery.headers!r} body={delivery.body[:300]!r} signed={delivery.signed}")
    check(delivery, fuzz_server[0], pg_engine)


def _signed(body: bytes, signature: bytes | None = None) -> dict[str, bytes]:
    """Headers signed now (call it when posting: a stale timestamp is refused first)."""
    now = int(time.time())
    v1 = signature or compute_signature(WEBHOOK_SECRET.encode(), now, body).encode()
    return {"Content-Type": b"application/json", "Stripe-Signature": b"t=%d,v1=%s" % (now, v1)}


NUL_ID_BODY = json.dumps({"id": "evt_\x00", "type": "invoice.paid", "data": {"object": {}}})


def _non_ascii_v1() -> Delivery:
    return Delivery(_signed(b"{}", b"\xc2\x80"), b"{}", signed=False, body_kind=INVALID)


def _nul_in_event_id() -> Delivery:
    body = NUL_ID_BODY.encode()
    return Delivery(_signed(body), body, signed=True, body_kind=EDGE)


def _blank_signature() -> Delivery:
    """What a `Stripe-Signature: ` of spaces arrives as: an empty value."""
    return Delivery(
        {"Content-Type": b"application/json", "Stripe-Signature": b""}, b"", False, INVALID
    )


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(_blank_signature, id="blank-signature"),
        pytest.param(_non_ascii_v1, id="non-ascii-v1"),
        pytest.param(_nul_in_event_id, id="nul-in-event-id"),
    ],
)
def test_what_the_fuzzer_found(
    make: Callable[[], Delivery], fuzz_server: tuple[str, Path], pg_engine: Engine
) -> None:
    """The examples hypothesis found, pinned so they run every time."""
    delivery = make()
    check(delivery, fuzz_server[0], pg_engine)
