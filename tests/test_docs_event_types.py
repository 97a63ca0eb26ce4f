"""docs/event-types.md says which event types are handled and ignored, truthfully.

Handled: exactly the types with a registered handler. Ignored: none has one.
Every event type the installed Stripe SDK declares is in one of the two lists, so a type
Stripe adds gets a decision instead of silently joining the ignored ones.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from tests.support.event_types import handled_event_types, stripe_event_types
from tests.support.markdown_docs import ROOT, load

EVENT_TYPES = ROOT / "docs" / "event-types.md"


def listed(section: str, column: int = 0) -> list[str]:
    """The code spans in one column of every table under `section` of event-types.md."""
    tables = load(EVENT_TYPES).tables_under(section)
    assert tables, f"no table under '{section}'"
    return [name for t in tables for row in t.rows for name in row[column].code]


def documented() -> tuple[list[str], list[str]]:
    return listed("Handled"), listed("Ignored on purpose")


def test_the_handled_list_is_the_registry() -> None:
    handled, _ = documented()
    assert len(handled) == len(set(handled)), "a handled type listed twice"
    registry = handled_event_types()
    assert sorted(registry - set(handled)) == [], "handled but not in docs/event-types.md"
    assert sorted(set(handled) - registry) == [], "listed as handled but no handler"


def test_no_ignored_type_is_handled() -> None:
    _, ignored = documented()
    registry = handled_event_types()
    wrongly_ignored = [(p, t) for p in ignored for t in sorted(registry) if fnmatchcase(t, p)]
    assert wrongly_ignored == [], "an ignored pattern matches a handled type"


def test_every_listed_name_is_a_stripe_event_type() -> None:
    handled, ignored = documented()
    known = stripe_event_types()
    typos = [n for n in [*handled, *ignored] if not any(fnmatchcase(t, n) for t in known)]
    assert typos == [], "names that match no event type Stripe declares"


def test_every_stripe_event_type_is_accounted_for() -> None:
    handled, ignored = documented()
    patterns = [*handled, *ignored]
    unlisted = sorted(
        t for t in stripe_event_types() if not any(fnmatchcase(t, p) for p in patterns)
    )
    assert unlisted == [], "add these to docs/event-types.md: handled, or ignored and why"


def test_no_type_is_in_two_lists() -> None:
    handled, ignored = documented()
    lists = {"handled": handled, "ignored": ignored}
    owners: dict[str, list[str]] = {}
    for name, patterns in lists.items():
        for event_type in stripe_event_types() | handled_event_types():
            if any(fnmatchcase(event_type, p) for p in patterns):
                owners.setdefault(event_type, []).append(name)
    assert {t: o for t, o in owners.items() if len(o) > 1} == {}


def test_the_stripe_list_is_read_from_the_sdk() -> None:
    known = stripe_event_types()
    assert {"invoice.paid", "customer.subscription.updated", "payout.paid"} <= known
    assert len(known) > 200
