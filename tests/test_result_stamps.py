"""Command results' mirror stamps: Stripe's Date header, the fallback and the tie rule."""

from __future__ import annotations

import email.utils

from domain.mirror.families.customers import customer_rank, parse_customer
from domain.mirror.ordering import Stamp, command_result_stamp, supersedes
from workers.stripe_gateway import answered_at

T = 1_767_225_600
CUSTOMER = parse_customer({"id": "cus_stamps"})


def customer_stamp(event_type: str, created: int, event_id: str) -> Stamp:
    return Stamp(created, customer_rank(CUSTOMER, event_type), event_id)


def test_the_answer_second_comes_from_the_date_header() -> None:
    date = email.utils.formatdate(T + 0.9, usegmt=True)
    assert answered_at({"Date": date}) == T
    assert answered_at({"date": "Thu, 01 Jan 2026 00:00:00"}) == T  # zone-less: GMT
    assert answered_at({}) is None and answered_at(None) is None
    assert answered_at({"Date": "yesterday-ish"}) is None
    # A replay's Date is the replay's; its body is the first answer's.
    assert answered_at({"Date": date, "Idempotent-Replayed": "true"}) is None


def test_a_dated_result_beats_webhooks_up_to_its_second_and_loses_to_later_ones() -> None:
    created, event_id = command_result_stamp("cmd_abc", 0, T, object_created=T - 100)
    result = customer_stamp("customer.updated", created, event_id)
    before = customer_stamp("customer.updated", T - 1, "evt_zzzzzz")
    same_second = customer_stamp("customer.updated", T, "evt_zzzzzz")
    later = customer_stamp("customer.updated", T + 1, "evt_000000")
    assert supersedes(result, before)
    assert supersedes(result, same_second)  # the tie rule: the result wins equal rank
    assert not supersedes(same_second, result)
    assert supersedes(later, result)
    # Rank still comes first: a same-second deletion is never undone by the result.
    assert not supersedes(result, customer_stamp("customer.deleted", T, "evt_000000"))


def test_an_undated_result_is_as_old_as_its_object_and_loses_ties() -> None:
    created, event_id = command_result_stamp("cmd_abc", 1, None, object_created=T)
    assert (created, event_id) == (T, "cmd_abc.1")
    result = customer_stamp("customer.updated", created, event_id)
    assert supersedes(result, customer_stamp("customer.created", T, "evt_a"))  # rank
    assert not supersedes(result, customer_stamp("customer.updated", T, "evt_a"))
    assert command_result_stamp("cmd_abc", 0, None, object_created=None)[0] == 0


def test_result_ids_sort_around_stripe_event_ids() -> None:
    dated = command_result_stamp("cmd_f", 0, T, None)[1]
    undated = command_result_stamp("cmd_f", 0, None, None)[1]
    for evt in ("evt_0", "evt_zzzzzzzzzzzzzzzzzzzzzzzz", "evt_1QxYz"):
        assert undated < evt < dated
    assert Stamp(T, 0, undated) < Stamp(T, 0, "evt_0") < Stamp(T, 0, dated)


def test_of_two_results_in_one_second_the_later_answer_wins_whatever_the_command_ids() -> None:
    """payg.enable then payg.disable within one second: the removal must show."""
    first = command_result_stamp("cmd_zzz", 0, T, None, received_us=T * 1_000_000 + 10)
    second = command_result_stamp("cmd_aaa", 0, T, None, received_us=T * 1_000_000 + 900_000)
    earlier = customer_stamp("customer.updated", *first)
    later = customer_stamp("customer.updated", *second)
    assert supersedes(later, earlier) and not supersedes(earlier, later)
    assert first[1] > "evt_zzzzzzzz"  # still after Stripe's ids of its second
