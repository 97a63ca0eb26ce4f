"""parse_envelope on both envelopes (snapshot v1, thin v2) and on garbage: pure, no DB."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.envelope import (
    EnvelopeError,
    RelatedObject,
    ensure_storable,
    is_api_path,
    parse_envelope,
)
from domain.samples import build_event

THIN: dict[str, Any] = {
    "id": "evt_test_65RCjj4EqW1sabcjs2Z16RCMoNQdSQkOWvfL6L5uU2K40u",
    "object": "v2.core.event",
    "context": None,
    "created": "2024-09-26T17:46:22.134Z",
    "livemode": False,
    "reason": None,
    "related_object": {
        "id": "mtr_test_61RCjiqdTDC91zgip41IqPCzPnxqqSVc",
        "type": "billing.meter",
        "url": "/v1/billing/meters/mtr_test_61RCjiqdTDC91zgip41IqPCzPnxqqSVc",
    },
    "type": "v1.billing.meter.error_report_triggered",
}


def thin(**changes: Any) -> bytes:
    doc = {**THIN, **changes}
    return orjson.dumps({k: v for k, v in doc.items() if v is not ...})


def test_thin_event_parses_into_the_same_envelope_with_its_reference() -> None:
    env = parse_envelope(thin())
    assert env.thin and env.event_id == THIN["id"]
    assert env.type == "v1.billing.meter.error_report_triggered"
    assert env.created == 1727372782  # 2024-09-26T17:46:22Z, floored to the second
    assert env.related_object == RelatedObject(
        THIN["related_object"]["id"], "billing.meter", THIN["related_object"]["url"]
    )
    assert (env.object_type, env.object_id) == ("billing.meter", THIN["related_object"]["id"])
    assert env.data == {} and env.object == {} and env.api_version is None
    assert env.livemode is False and env.context is None


def test_thin_event_with_null_related_object_context_and_offset_time() -> None:
    env = parse_envelope(
        thin(related_object=None, context="acct_123", created="2024-09-26T19:46:22+02:00")
    )
    assert env.related_object is None and env.object_id is None and env.object_type is None
    assert env.context == "acct_123" and env.created == 1727372782


def test_thin_event_without_the_related_object_key_has_none() -> None:
    assert parse_envelope(thin(related_object=...)).related_object is None


def test_thin_event_data_in_the_body_is_not_trusted() -> None:
    env = parse_envelope(thin(data={"object": {"id": "x", "object": "customer"}}))
    assert env.data == {} and env.object_id == THIN["related_object"]["id"]


def test_snapshot_event_is_parsed_as_before() -> None:
    raw = orjson.dumps(build_event("customer.created", {"id": "cus_1", "object": "customer"}))
    env = parse_envelope(raw)
    assert not env.thin and env.related_object is None and env.context is None
    assert (env.object_type, env.object_id) == ("customer", "cus_1")
    assert isinstance(env.created, int) and env.created > 0


@pytest.mark.parametrize(
    "created",
    [
        ...,  # missing
        None,
        1727372782,  # an integer is a snapshot's, not a thin event's
        True,
        "",
        "yesterday",
        "2024-09-26",  # a date, no time
        "2024-09-26T17:46:22",  # no offset
        "2024-13-26T17:46:22Z",
        "2024-09-26T17:46:22\u0000Z",
        "2024-09-26T17:46:22Z" + "0" * 100,
        ["2024-09-26T17:46:22Z"],
    ],
)
def test_thin_event_without_a_valid_created_is_invalid(created: Any) -> None:
    with pytest.raises(EnvelopeError) as exc:
        parse_envelope(thin(created=created))
    assert exc.value.code == "invalid_event"


@pytest.mark.parametrize(
    "related",
    [
        "mtr_1",
        [],
        {},
        {"id": "mtr_1", "type": "billing.meter"},
        {"id": "mtr_1", "type": "billing.meter", "url": 7},
        {"id": "", "type": "billing.meter", "url": "/v1/billing/meters/mtr_1"},
        {"id": "mtr_1", "type": "billing.meter", "url": "https://evil.example/v1/x"},
        {"id": "mtr_1", "type": "billing.meter", "url": "//evil.example/v1/x"},
        {"id": "mtr_1", "type": "billing.meter", "url": "/v1/../../etc/passwd"},
        {"id": "mtr_1", "type": "billing.meter", "url": "/v1/billing/meters/mtr_1?x=1"},
    ],
)
def test_thin_event_with_a_bad_related_object_is_invalid(related: Any) -> None:
    with pytest.raises(EnvelopeError) as exc:
        parse_envelope(thin(related_object=related))
    assert exc.value.code == "invalid_event"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"[]",
        b'"v2.core.event"',
        b'{"object": "v2.core.event"}',
        b'{"object": "v2.core.event", "id": "evt_1"}',
        b'{"object": "v2.core.event", "type": "v1.x", "id": 5}',
    ],
)
def test_garbage_is_an_envelope_error(raw: bytes) -> None:
    with pytest.raises(EnvelopeError):
        parse_envelope(raw)


def test_unstorable_thin_event_names_the_thin_field() -> None:
    long_id = "mtr_" + "x" * 300
    raw = thin(related_object={"id": long_id, "type": "billing.meter", "url": "/v1/m/" + long_id})
    with pytest.raises(EnvelopeError) as exc:
        ensure_storable(parse_envelope(raw), raw)
    assert exc.value.code == "unstorable_event" and "related_object.id" in str(exc.value)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("/v1/billing/meters/mtr_1", True),
        ("/v2/core/accounts/acct_1", True),
        ("/v3/x", False),
        ("v1/billing/meters/mtr_1", False),
        ("/v1/a b", False),
        ("/v1/a\\b", False),
        ("/v1/a@evil", False),
        ("/v1/caf\u00e9", False),
    ],
)
def test_api_path(url: str, ok: bool) -> None:
    assert is_api_path(url) is ok


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    created=json_values | st.datetimes().map(lambda d: d.isoformat() + "Z"),
    related=json_values
    | st.fixed_dictionaries({"id": st.text(), "type": st.text(), "url": st.text()}),
    extra=st.dictionaries(st.sampled_from(["context", "livemode", "data", "reason"]), json_values),
)
def test_any_thin_shaped_body_parses_or_is_an_envelope_error(
    created: Any, related: Any, extra: dict[str, Any]
) -> None:
    raw = orjson.dumps({**THIN, **extra, "created": created, "related_object": related})
    try:
        env = parse_envelope(raw)
        ensure_storable(env, raw)
    except EnvelopeError:
        return
    assert env.thin and isinstance(env.created, int)
    assert env.related_object is None or is_api_path(env.related_object.url)
