"""billing prune: what goes (old finished events) and what never does, on both backends."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import Engine

from domain.event_log import DEAD
from domain.models import EventStatus
from domain.ops.attempts import ATTEMPTS
from domain.ops.audit import AUDIT, AUDIT_EVENTS
from tests.retention.support import (
    NOW,
    Spec,
    archive_lines,
    count,
    event_ids,
    expected_prunable,
    random_specs,
    seed,
)
from workers.archive import find_event
from workers.prune import PruneConfig, prune

P, IGN, D = EventStatus.PROCESSED, EventStatus.IGNORED, EventStatus.DEAD


def config(archive: Path | None = None, batch: int = 7, days: int = 90) -> PruneConfig:
    return PruneConfig(retention_days=days, archive_dir=archive, batch_size=batch)


def test_mixed_statuses_and_ages_only_old_finished_unreferenced_go(
    log_engine: Engine, tmp_path: Path
) -> None:
    rng = random.Random(14)
    seeded = seed(log_engine, random_specs(rng, 600))
    expect_gone = {e for e, s in seeded.items() if expected_prunable(s, 90)}
    # The draw covers every case the rule distinguishes.
    assert 20 < len(expect_gone) < 300
    assert any(s.status == D and s.age_days > 90 for s in seeded.values())
    assert any(s.status == EventStatus.PROCESSING and s.age_days > 90 for s in seeded.values())

    result = prune(log_engine, config(tmp_path / "archive"), now=NOW)

    left = event_ids(log_engine)
    assert set(seeded) - left == expect_gone
    for event_id in left & expect_gone:
        pytest.fail(f"{event_id} should have been pruned")
    for event_id, spec in seeded.items():
        if spec.status not in (P, IGN):
            assert event_id in left, f"a {spec.status} event was pruned"
    assert result.deleted.total == len(expect_gone)
    assert result.batches >= len(expect_gone) // 7
    archived = {r["event_id"] for r in archive_lines(tmp_path / "archive")}
    assert archived == expect_gone
    # Dependent rows went with their events and no others.
    kept = [s for e, s in seeded.items() if e not in expect_gone]
    assert count(log_engine, ATTEMPTS) == sum(s.attempts for s in kept)
    assert count(log_engine, DEAD) == sum(s.dead_letter_age is not None for s in kept)
    assert count(log_engine, AUDIT_EVENTS) == sum(s.audit_age is not None for s in kept)
    # The audit rows themselves stay (who replayed what, how many): only the links go.
    assert count(log_engine, AUDIT) == sum(s.audit_age is not None for s in seeded.values())
    # A second run has nothing left to do.
    assert prune(log_engine, config(tmp_path / "archive"), now=NOW).deleted.total == 0


def test_dead_unfinished_and_recently_referenced_are_kept_however_old(log_engine: Engine) -> None:
    old = 400.0
    keep = seed(
        log_engine,
        [
            *(Spec(status, old) for status in EventStatus if status not in (P, IGN)),
            Spec(D, old, dead_letter_age=old),
            Spec(P, old, audit_age=10),  # force re-run 10 days ago: its audit is open
            Spec(P, old, dead_letter_age=10),  # dead 10 days ago, replayed and processed
            Spec(IGN, old, audit_age=89.9),
        ],
    )
    gone = seed(
        log_engine,
        [Spec(P, old, audit_age=200, attempts=2), Spec(IGN, 91), Spec(P, old, dead_letter_age=95)],
    )
    seed(log_engine, [Spec(P, 89), Spec(IGN, 1)])  # inside the horizon
    result = prune(log_engine, config(), now=NOW)
    left = event_ids(log_engine)
    assert set(keep) <= left
    assert not set(gone) & left
    assert result.deleted.total == 3
    assert dict(result.deleted.events) == {"processed": 2, "ignored": 1}
    assert result.deleted.attempts == 2 and result.deleted.dead_letters == 1
    assert result.deleted.audit_links == 1


def test_dry_run_deletes_nothing_and_reports_counts(log_engine: Engine, tmp_path: Path) -> None:
    seed(
        log_engine,
        [
            Spec(P, 100, attempts=2),
            Spec(P, 100),
            Spec(IGN, 120),
            Spec(D, 100, dead_letter_age=100),
            Spec(EventStatus.RETRYING, 100, attempts=1),
            Spec(P, 100, audit_age=5),
            Spec(P, 10),
        ],
    )
    before = event_ids(log_engine)
    result = prune(log_engine, config(tmp_path / "archive"), dry_run=True, now=NOW)
    assert event_ids(log_engine) == before
    assert not (tmp_path / "archive").exists()
    assert result.dry_run and result.deleted.total == 3
    assert dict(result.deleted.events) == {"processed": 2, "ignored": 1}
    assert result.deleted.attempts == 2
    assert result.kept == {"dead": 1, "unfinished": 1, "referenced": 1}


def test_pruned_payloads_are_archived_per_receive_day_and_readable(
    log_engine: Engine, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    seeded = seed(log_engine, [Spec(P, 100.0), Spec(P, 100.1), Spec(IGN, 150.0)])
    with log_engine.connect() as conn:
        from sqlalchemy import select

        from domain.event_log import EVENTS

        bodies = dict(conn.execute(select(EVENTS.c.event_id, EVENTS.c.raw_body)).all())
    result = prune(log_engine, config(archive, batch=2), now=NOW)
    assert result.archived == 3
    names = sorted(p.name for p in archive.iterdir())
    assert len(names) == 2 and all(n.endswith(".jsonl.gz") for n in names)
    for event_id, spec in seeded.items():
        record = find_event(archive, event_id)
        assert record is not None
        assert record["raw_body"] == bodies[event_id]  # byte for byte
        assert record["status"] == spec.status
    assert find_event(archive, "evt_missing") is None


def test_a_crash_between_archive_and_commit_loses_nothing_and_rerun_tolerates_it(
    log_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "archive"
    seeded = seed(log_engine, [Spec(P, 100) for _ in range(5)])

    def crash(*_: object) -> None:
        raise KeyboardInterrupt  # the process dies after the archive's fsync

    monkeypatch.setattr("workers.prune.retention.delete_events", crash)
    with pytest.raises(KeyboardInterrupt):
        prune(log_engine, config(archive, batch=3), now=NOW)
    assert event_ids(log_engine) == set(seeded)  # rolled back: nothing deleted
    assert len(archive_lines(archive)) == 3  # but the first batch is archived
    monkeypatch.undo()

    result = prune(log_engine, config(archive, batch=3), now=NOW)
    assert result.deleted.total == 5 and event_ids(log_engine) == set()
    lines = [str(r["event_id"]) for r in archive_lines(archive)]
    assert len(lines) == 8 and set(lines) == set(seeded)  # three archived twice, none lost
    assert all(find_event(archive, e) for e in seeded)


def test_an_unwritable_archive_deletes_nothing(log_engine: Engine, tmp_path: Path) -> None:
    seeded = seed(log_engine, [Spec(P, 100), Spec(P, 100)])
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(OSError):
        prune(log_engine, config(blocker / "archive"), now=NOW)
    assert event_ids(log_engine) == set(seeded)


def test_a_batch_skips_rows_another_transaction_holds(db: Engine) -> None:
    from sqlalchemy import text

    seeded = list(seed(db, [Spec(P, 100), Spec(P, 100), Spec(P, 100)]))
    with db.connect() as other:
        other.execute(
            text("SELECT 1 FROM stripe_events WHERE event_id = :e FOR UPDATE"), {"e": seeded[0]}
        )  # a force replay holding the row
        result = prune(db, config(), now=NOW)  # does not wait for it
        assert result.deleted.total == 2
        other.rollback()
    assert event_ids(db) == {seeded[0]}
    assert prune(db, config(), now=NOW).deleted.total == 1  # the next run takes it
