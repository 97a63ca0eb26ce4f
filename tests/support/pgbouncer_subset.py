"""The tests that run a second time through PgBouncer in CI (TEST_VIA_PGBOUNCER=1).

One or two tests per class of database code path, not the whole suite twice: why each is
here is in docs/testing.md ("Through PgBouncer"). tests/test_pgbouncer.py (the pooler
itself, with and without DATABASE_POOLER) runs in the ordinary run, with its own PgBouncer.
"""

from __future__ import annotations

PGBOUNCER_SUBSET: tuple[str, ...] = (
    # Web ingest (group-commit writer, publisher) -> broker -> worker batch path, processes.
    "tests/test_e2e_pipeline.py::test_posted_events_are_processed_once",
    "tests/test_e2e_pipeline.py::test_fifty_concurrent_deliveries_of_one_event",
    # A dead letter; a SIGKILLed worker: the sweeper's lease recovery.
    "tests/test_e2e_pipeline.py::test_failing_handler_ends_dead_with_a_dead_letter",
    "tests/test_e2e_pipeline.py::test_worker_sigkilled_mid_handler",
    # Commands exactly once (commands' advisory lock, outbox, Stripe idempotency).
    "tests/commands/test_commands_e2e.py::test_200_concurrent_ensures_make_one_customer",
    # The credit gate: 200 concurrent consumes in group commits, and the row-lock race.
    "tests/credits/test_concurrency.py",
    # Ops: replay (concurrent replays of one dead letter) and backfill (resume).
    "tests/ops/test_replay.py::test_concurrent_replays_of_one_dead_letter_run_it_once",
    "tests/ops/test_backfill.py::test_interrupted_backfill_resumes_and_adds_exactly_the_missing_events",
    # The fault scenarios whose database side differs (the others differ in the broker or in
    # Stripe, which the pooler does not touch): a Postgres crash behind the pooler, a pool
    # child killed mid-handler (fenced leases), a web worker killed mid-batch (the writer).
    "tests/faults/test_faults.py::test_scenario[redis-postgres_restarted_immediate]",
    "tests/faults/test_faults.py::test_scenario[redis-pool_child_killed_mid_handler]",
    "tests/faults/test_faults.py::test_scenario[redis-web_worker_killed]",
)


def in_pgbouncer_subset(nodeid: str) -> bool:
    """Whether a test's node id is an entry, or inside one (a file, a parametrised test)."""
    return any(
        nodeid == entry
        or nodeid.startswith((f"{entry}::", f"{entry}[", f"{entry}/"))
        or (entry.endswith("-") and nodeid.startswith(entry))
        for entry in PGBOUNCER_SUBSET
    )
