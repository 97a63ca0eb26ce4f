"""What a meter error event's fetched data becomes (pure, no DB)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from domain.envelope import EventEnvelope, parse_envelope
from domain.thin import THIN_REGISTRY, Fetch
from domain.thin.meter_errors import (
    ERROR_REPORT_TRIGGERED,
    NO_METER_FOUND,
    UNRECOGNIZED,
    FetchedEventMismatch,
    read_report,
)
from tests.support.fake_stripe_thin import ThinEvents, thin_body


def envelope_and_full(
    meter: str | None, errors: dict[str, int], kind: str = ERROR_REPORT_TRIGGERED
) -> tuple[EventEnvelope, dict[str, Any]]:
    event = ThinEvents().meter_error(meter, errors, kind)
    return parse_envelope(thin_body(event)), event


def test_both_meter_error_types_are_registered_and_fetch_the_event() -> None:
    for event_type in (ERROR_REPORT_TRIGGERED, NO_METER_FOUND):
        assert THIN_REGISTRY[event_type].fetch is Fetch.EVENT


def test_report_has_meter_codes_counts_and_window_and_no_samples() -> None:
    env, full = envelope_and_full(
        "mtr_1", {"meter_event_no_customer_defined": 3, "timestamp_too_far_in_past": 1}
    )
    report = read_report(env, full)
    assert report.meter_id == "mtr_1" and report.error_count == 4
    assert report.errors == (
        ("meter_event_no_customer_defined", 3),
        ("timestamp_too_far_in_past", 1),
    )
    assert report.window_start and report.window_start.endswith("Z")
    assert report.window_end and report.window_end >= report.window_start
    payload = report.payload(ERROR_REPORT_TRIGGERED)
    text = orjson.dumps(payload).decode()
    assert "sample_errors" not in text and "identifier" not in text and "Customer" not in text
    assert payload["errors"] == [
        {"code": "meter_event_no_customer_defined", "count": 3},
        {"code": "timestamp_too_far_in_past", "count": 1},
    ]


def test_no_meter_found_has_no_meter_id() -> None:
    env, full = envelope_and_full(None, {"no_meter": 2}, NO_METER_FOUND)
    report = read_report(env, full)
    assert report.meter_id is None and report.errors == (("no_meter", 2),)


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {},
        {"reason": "x"},
        {"reason": {"error_types": "x"}},
        {"reason": {"error_types": [None, 5, {"code": None, "error_count": "3"}]}},
        {"validation_start": 5, "validation_end": "soon"},
    ],
)
def test_odd_data_gives_an_empty_but_valid_report(data: Any) -> None:
    env, full = envelope_and_full("mtr_1", {})
    report = read_report(env, {**full, "data": data})
    assert report.meter_id == "mtr_1" and report.error_count >= 0
    assert all(code == UNRECOGNIZED and n == 0 for code, n in report.errors)
    assert report.window_start is None or report.window_start.endswith("Z")


def test_codes_that_are_not_identifiers_are_folded_into_one_label() -> None:
    env, full = envelope_and_full("mtr_1", {"Bad Code!": 2, "x" * 65: 1, "ok_code": 1})
    assert read_report(env, full).errors == (("ok_code", 1), (UNRECOGNIZED, 3))


def test_a_fetched_event_that_is_not_this_one_is_refused() -> None:
    env, full = envelope_and_full("mtr_1", {"a": 1})
    with pytest.raises(FetchedEventMismatch):
        read_report(env, {**full, "id": "evt_other"})
