"""The validated input types on their own: whatever the text, a value or a ValueError.

Property-based where the input space is open (times, cursors, numeric ids), and a walk
over every command's params proving each text field refuses NUL (JSONB cannot store it).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from domain.commands.params import PARAMS
from domain.input_types import INT32_MAX, ascii_int
from domain.ops.filters import parse_since
from ingest.ops_schemas import decode_event_cursor, encode_event_cursor

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TIMES = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"\A\s*[0-9]{1,15}\s*[smhdwx]\s*\Z"),
    st.datetimes().map(lambda d: d.isoformat()),
    st.builds(
        lambda d, minutes: (
            f"{d.isoformat()}{'+' if minutes >= 0 else '-'}"
            f"{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        ),
        st.datetimes(),
        st.integers(min_value=-1439, max_value=1439),
    ),
)


@given(TIMES)
def test_parse_since_gives_an_aware_utc_time_or_a_value_error(value: str) -> None:
    try:
        parsed = parse_since(value, NOW)
    except ValueError as exc:
        assert len(str(exc)) < 100  # a fixed hint, the value is not echoed back
        return
    assert parsed.tzinfo is not None and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("5200w", NOW - timedelta(weeks=5200)),
        ("2026-11-20", datetime(2026, 11, 20, tzinfo=UTC)),
        ("2026-11-20T10:00+01:00", datetime(2026, 11, 20, 9, tzinfo=UTC)),
        ("2026-11-20T10:00Z", datetime(2026, 11, 20, 10, tzinfo=UTC)),
    ],
)
def test_parse_since_reads_durations_and_dates(value: str, expected: datetime) -> None:
    assert parse_since(value, NOW) == expected


@pytest.mark.parametrize(
    "value",
    ["999999999d", "5300w", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9" * 5000],
)
def test_parse_since_refuses_what_datetime_cannot_hold(value: str) -> None:
    with pytest.raises(ValueError):
        parse_since(value, NOW)


@given(st.text(max_size=30))
def test_ascii_int_accepts_only_ascii_digits_in_range(value: str) -> None:
    number = ascii_int(value, INT32_MAX)
    if number is not None:
        assert value.isascii() and value.isdigit() and 0 <= number <= INT32_MAX


def test_ascii_int_edges() -> None:
    assert ascii_int("2147483647", INT32_MAX) == INT32_MAX
    assert ascii_int("2147483648", INT32_MAX) is None
    assert ascii_int("²", INT32_MAX) is None and ascii_int("9" * 5000, INT32_MAX) is None


def _cursor(*parts: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(parts))).decode()


@given(
    st.one_of(
        st.text(max_size=60),
        st.builds(_cursor, st.text(max_size=40), st.text(max_size=20)),
        st.builds(_cursor, st.datetimes().map(lambda d: d.isoformat()), st.text(max_size=10)),
        st.builds(_cursor, st.integers(min_value=-(2**63), max_value=2**63 - 1), st.none()),
    )
)
def test_an_event_cursor_decodes_to_an_aware_time_and_an_id_or_a_value_error(value: str) -> None:
    try:
        at, event_id = decode_event_cursor(value)
    except ValueError:
        return
    assert at.tzinfo is not None and "\x00" not in event_id and 0 < len(event_id) <= 255


def test_an_event_cursor_round_trips_and_refuses_a_naive_time() -> None:
    row = {"received_at": NOW, "event_id": "evt_1"}
    assert decode_event_cursor(encode_event_cursor(row)) == (NOW, "evt_1")
    with pytest.raises(ValueError):
        decode_event_cursor(_cursor("2026-12-01T12:00:00", "evt_1"))


def _text_fields(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The location of every text field of `model`, nested models included."""
    for name, info in model.model_fields.items():
        for leaf in _leaves(info.annotation):
            if leaf is str:
                yield (*prefix, name)
            elif isinstance(leaf, type) and issubclass(leaf, BaseModel):
                yield from _text_fields(leaf, (*prefix, name))


def _leaves(annotation: Any) -> Iterator[Any]:
    args = get_args(annotation)
    if get_origin(annotation) in (Union, UnionType) or get_origin(annotation) is Annotated:
        for arg in args if get_origin(annotation) is not Annotated else args[:1]:
            yield from _leaves(arg)
    else:
        yield annotation


def _nested(loc: tuple[str, ...], value: object) -> dict[str, Any]:
    return {loc[0]: value if len(loc) == 1 else _nested(loc[1:], value)}


TEXT_FIELDS = [(t, loc) for t, model in PARAMS.items() for loc in _text_fields(model)]


def test_the_walk_finds_the_text_fields() -> None:
    found = {(t, ".".join(loc)) for t, loc in TEXT_FIELDS}
    assert ("customer.ensure", "name") in found
    assert ("customer.update_billing_details", "address.postal_code") in found
    assert ("checkout.create", "tier") in found


@pytest.mark.parametrize(("command_type", "loc"), TEXT_FIELDS, ids=lambda v: str(v))
def test_every_text_field_of_every_command_refuses_nul(
    command_type: str, loc: tuple[str, ...]
) -> None:
    # Valid text but for the NUL: only the NUL can make this field fail.
    value = "NL123456789B01\x00" if loc[-1] == "vat_number" else "12345678\x00"
    try:
        PARAMS[command_type].model_validate(_nested(loc, value))
    except ValidationError as exc:
        failed = {tuple(str(p) for p in e["loc"]) for e in exc.errors()}
        assert loc in failed, (command_type, loc, exc.errors())
    else:
        pytest.fail(f"{command_type} accepted a NUL in {'.'.join(loc)}")
