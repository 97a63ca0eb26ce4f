"""docs/event-types.md's "Thin events" table is the thin registry, and names real types."""

from __future__ import annotations

from domain.mirror.families import REGISTRY
from domain.thin import THIN_REGISTRY
from tests.support.markdown_docs import ROOT, load
from workers.processor import THIN_TYPE_PREFIXES

EVENT_TYPES = ROOT / "docs" / "event-types.md"


def documented_thin_types() -> list[str]:
    tables = load(EVENT_TYPES).tables_under("Thin events")
    assert tables, "no table under 'Thin events'"
    return [name for t in tables for row in t.rows for name in row[0].code]


def sdk_thin_types() -> frozenset[str]:
    """The thin event types the installed Stripe SDK has classes for."""
    from stripe.events import _event_classes

    return frozenset(_event_classes._V2_EVENT_CLASS_LOOKUP)


def test_the_thin_table_is_the_thin_registry() -> None:
    listed = documented_thin_types()
    assert len(listed) == len(set(listed)), "a thin type listed twice"
    assert sorted(set(listed) ^ set(THIN_REGISTRY)) == []


def test_every_handled_thin_type_is_one_stripe_declares() -> None:
    assert sorted(set(THIN_REGISTRY) - sdk_thin_types()) == []


def test_thin_and_snapshot_types_never_share_a_name_or_prefix() -> None:
    """The processor routes thin events by their type's prefix (the envelope then decides)."""
    assert not set(THIN_REGISTRY) & set(REGISTRY)
    assert all(t.startswith(THIN_TYPE_PREFIXES) for t in THIN_REGISTRY)
    assert not any(t.startswith(THIN_TYPE_PREFIXES) for t in REGISTRY)
    assert all(t.startswith(THIN_TYPE_PREFIXES) for t in sdk_thin_types())


def test_the_thin_notification_kind_is_unique_fits_and_is_documented() -> None:
    from domain.mirror.families import FAMILIES
    from domain.mirror.outbox import KIND_LENGTH
    from domain.thin.meter_errors import MeterNotice

    family_kinds = {str(kind) for family in FAMILIES for kind in family.kinds}
    tables = load(ROOT / "docs" / "read-api.md").tables_under("Notification kinds")
    documented = {name for t in tables for row in t.rows for name in row[0].code}
    for kind in MeterNotice:
        assert kind not in family_kinds and len(kind) <= KIND_LENGTH
        assert kind in documented
