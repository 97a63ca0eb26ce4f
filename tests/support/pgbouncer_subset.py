"""The tests that run a second time through PgBouncer in CI (TEST_VIA_PGBOUNCER=1).

One or two tests per class of database code path, not the whole suite twice: why each is
here is in docs/testing.md ("Through PgBouncer"). A node id matches an entry it starts with.
"""

from __future__ import annotations

PGBOUNCER_SUBSET: tuple[str, ...] = (
    # The pooler itself: prepared statements break without DATABASE_POOLER, work with it.
    "tests/test_pgbouncer.py",
)


def in_pgbouncer_subset(nodeid: str) -> bool:
    """Whether a test's node id is an entry, or inside one (a file, a parametrised test)."""
    return any(
        nodeid == entry or nodeid.startswith((f"{entry}::", f"{entry}[", f"{entry}/"))
        for entry in PGBOUNCER_SUBSET
    )
