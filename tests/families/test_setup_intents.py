"""The setup intents family's pure core: parse (both shapes), rank, row, the failure notice."""

from __future__ import annotations

import pytest

from domain.mirror.families import setup_intents
from domain.mirror.families.setup_intents import SetupIntentNoticeKind, parse_setup_intent
from domain.mirror.ordering import TERMINAL_WEIGHT
from domain.mirror.stripe_json import ApiShape, ViewError
from domain.samples import example_object
from tests.families.support import decide, envelope, incoming, stamp
from tests.mirror import factory as f
from tests.mirror import factory_sources as fs

FAMILY = setup_intents.FAMILY
FAILED, SUCCEEDED = "setup_intent.setup_failed", "setup_intent.succeeded"


def failed(shape: ApiShape = ApiShape.CURRENT) -> dict[str, object]:
    return fs.setup_intent(
        "seti_1",
        "cus_1",
        "requires_payment_method",
        payment_method="pm_bad",
        error="card_declined",
        decline_code="insufficient_funds",
        shape=shape,
    )


@pytest.mark.parametrize("shape", f.SHAPES, ids=str)
def test_a_failure_and_a_success_parse_in_both_shapes(shape: ApiShape) -> None:
    view = parse_setup_intent(failed(shape), f.api_version(shape))
    assert (view.id, view.customer_id, view.payment_method_id, view.status) == (
        "seti_1",
        "cus_1",
        "pm_bad",
        "requires_payment_method",
    )
    assert (view.error_code, view.error_decline_code, view.error_message) == (
        "card_declined",
        "insufficient_funds",
        "Your card was declined.",
    )
    ok = fs.setup_intent("seti_1", "cus_1", "succeeded", mandate="mandate_1", shape=shape)
    view = parse_setup_intent(ok, f.api_version(shape))
    assert (view.status, view.payment_method_id, view.mandate_id, view.error_code) == (
        "succeeded",
        "pm_seti",
        "mandate_1",
        None,
    )
    assert view.usage == "off_session" and view.created is not None


def test_the_failed_methods_details_and_the_client_secret_are_not_kept() -> None:
    row = decide(FAMILY, envelope(FAILED, failed()))
    assert row["raw"]["last_setup_error"]["payment_method"] == "pm_bad"
    assert "client_secret" not in row["raw"]
    assert "Jenny" not in repr(row) and "jenny@example.com" not in repr(row)


def test_the_fixture_and_odd_payloads() -> None:
    view = parse_setup_intent(example_object("setup_intent"))
    assert (view.status, view.customer_id, view.payment_method_id, view.error_code) == (
        "requires_payment_method",
        None,
        None,
        None,
    )
    with pytest.raises(ViewError):
        parse_setup_intent({"status": "succeeded"})
    odd = parse_setup_intent({"id": "seti_x", "status": 5, "last_setup_error": "boom"})
    assert (odd.status, odd.error_code, odd.created) == ("requires_payment_method", None, None)
    expanded = parse_setup_intent(
        {"id": "seti_e", "customer": {"id": "cus_e"}, "payment_method": {"id": "pm_e"}}
    )
    assert (expanded.customer_id, expanded.payment_method_id) == ("cus_e", "pm_e")


def test_success_is_terminal_and_beats_a_failure_of_the_same_second() -> None:
    fail = stamp(FAMILY, envelope(FAILED, failed(), event_id="evt_z"))
    ok = stamp(FAMILY, envelope(SUCCEEDED, fs.setup_intent("seti_1", "cus_1", "succeeded")))
    assert ok.rank >= TERMINAL_WEIGHT > fail.rank and ok > fail
    assert decide(FAMILY, envelope(FAILED, failed(), event_id="evt_z"), current=ok) is None


def test_transition_row_and_the_failure_notice() -> None:
    row = decide(FAMILY, envelope(FAILED, failed()))
    assert (row["stripe_customer_id"], row["status"], row["error_code"]) == (
        "cus_1",
        "requires_payment_method",
        "card_declined",
    )
    view, inc = incoming(FAMILY, envelope(FAILED, failed()))
    (notice,) = FAMILY.notices(view, inc)
    assert notice.kind is SetupIntentNoticeKind.SETUP_FAILED
    assert notice.payload == {
        "setup_intent_id": "seti_1",
        "payment_method_id": "pm_bad",
        "error_code": "card_declined",
        "decline_code": "insufficient_funds",
    }
    view, inc = incoming(
        FAMILY, envelope(SUCCEEDED, fs.setup_intent("seti_1", "cus_1", "succeeded"))
    )
    assert FAMILY.notices(view, inc) == []
