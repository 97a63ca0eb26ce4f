"""Replay on real Postgres with the real processor: one, by filter, all, unfixed, races."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, text

from domain.ops.filters import DeadLetterFilter
from domain.ops.queries import get_dead_letter, get_event
from domain.ops.service import NothingSelected
from tests.ops.support import (
    BROKEN,
    FIXABLE,
    FIXED,
    OPS,
    Published,
    dead_letters,
    process_parallel,
    run_until_settled,
    runtime_with,
    service,
    store,
)
from tests.support.db import effects, statuses
from workers.processor import process_events


def test_replay_one_after_the_fix_processes_it_once(db: Engine) -> None:
    with runtime_with(2) as rt:
        [event_id] = dead_letters(rt, 1)
        published = Published()
        result = service(rt, published).replay_dead_letters(OPS, refs=["1"], reason="fixed bug")
        assert result.replayed == [event_id] and published.ids == [event_id]
        assert statuses(db) == {"queued": 1}
        process_events(rt, published.ids, FIXED)
        assert effects(db, event_id) == 1 and statuses(db) == {"processed": 1}
        with db.connect() as conn:
            detail = get_dead_letter(conn, event_id)
        assert detail is not None and detail["replay_count"] == 1
        assert detail["last_replayed_by"] == "cli:oncall"
        [audit] = detail["replays"]
        assert (audit["actor"], audit["reason"], audit["previous_status"]) == (
            "oncall",
            "fixed bug",
            "dead",
        )
        assert [a["attempt"] for a in detail["attempt_history"]] == [1, 2]


def test_unfixed_replay_goes_back_to_dead_with_history_intact(db: Engine) -> None:
    with runtime_with(2) as rt:
        [event_id] = dead_letters(rt, 1)
        published = Published()
        service(rt, published).replay_dead_letters(OPS, refs=[event_id])
        run_until_settled(rt, published.ids, BROKEN)
        with db.connect() as conn:
            detail = get_dead_letter(conn, event_id)
        assert detail is not None
        assert detail["status"] == "dead" and detail["attempts"] == 2  # a fresh budget was used
        assert [a["attempt"] for a in detail["attempt_history"]] == [1, 2, 1, 2]
        assert {a["error_type"] for a in detail["attempt_history"]} == {"HandlerFailure"}
        assert detail["replay_count"] == 1
        assert effects(db, event_id) == 0
        with db.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM dead_letters")).scalar_one() == 1


def test_replay_by_filter_touches_only_matches_and_dry_run_changes_nothing(db: Engine) -> None:
    with runtime_with(1) as rt:
        wanted = dead_letters(rt, 3)
        other = dead_letters(rt, 2, "test.other")
        svc = service(rt)
        flt = DeadLetterFilter(event_type=FIXABLE, error="ON PURPOSE")
        before = statuses(db)
        dry = svc.replay_dead_letters(OPS, flt=flt, dry_run=True)
        assert dry.count == 3 and dry.by_type == {FIXABLE: 3} and dry.audit_id is None
        assert statuses(db) == before
        with db.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM replay_audit")).scalar_one() == 0
        result = svc.replay_dead_letters(OPS, flt=flt)
        assert sorted(result.replayed) == sorted(wanted)
        for event_id in other:
            with db.connect() as conn:
                assert get_event(conn, event_id)["status"] == "dead"  # type: ignore[index]
        assert svc.replay_dead_letters(OPS, flt=DeadLetterFilter(error="no such text")).count == 0


def test_bulk_replay_needs_a_selector() -> None:
    with runtime_with(1) as rt, pytest.raises(NothingSelected):
        service(rt).replay_dead_letters(OPS)


def test_replay_all_of_1000_dead_letters_processes_each_once(db: Engine) -> None:
    with runtime_with(1) as rt:
        ids = dead_letters(rt, 1000)
        assert statuses(db) == {"dead": 1000}
        published = Published()
        seen: list[tuple[int, int]] = []
        result = service(rt, published).replay_dead_letters(
            OPS, everything=True, reason="bad deploy", progress=lambda d, t: seen.append((d, t))
        )
        rate = len(result.replayed) / result.seconds
        print(f"replayed {len(result.replayed)} in {result.seconds:.2f}s ({rate:.0f}/s)")
        assert sorted(result.replayed) == sorted(ids) and sorted(published.ids) == sorted(ids)
        assert seen[-1] == (1000, 1000)
        process_parallel(rt, published.ids, FIXED)
        assert statuses(db) == {"processed": 1000}
        assert effects(db) == 1000
        with db.connect() as conn:
            assert (
                conn.execute(text("SELECT count(DISTINCT event_id) FROM test_effects")).scalar_one()
                == 1000
            )
            audit = conn.execute(text("SELECT * FROM replay_audit")).mappings().one()
        assert (audit["event_count"], audit["reason"], audit["action"]) == (
            1000,
            "bad deploy",
            "dead_letters.replay",
        )


def test_concurrent_replays_of_one_dead_letter_run_it_once(db: Engine) -> None:
    with runtime_with(1) as rt:
        [event_id] = dead_letters(rt, 1)
        published = Published()
        svc = service(rt, published)
        barrier = threading.Barrier(6)
        results = []

        def replay() -> None:
            barrier.wait()
            results.append(svc.replay_dead_letters(OPS, refs=[event_id]))

        threads = [threading.Thread(target=replay) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sum(len(r.replayed) for r in results) == 1
        assert published.ids == [event_id]
        process_events(rt, published.ids * 3, FIXED)
        assert effects(db, event_id) == 1
        with db.connect() as conn:
            assert get_dead_letter(conn, event_id)["replay_count"] == 1  # type: ignore[index]


def test_concurrent_bulk_replays_split_the_work(db: Engine) -> None:
    with runtime_with(1) as rt:
        ids = dead_letters(rt, 300)
        published = Published()
        svc = service(rt, published)
        svc.chunk_size = 50
        barrier = threading.Barrier(2)

        def replay() -> None:
            barrier.wait()
            svc.replay_dead_letters(OPS, everything=True)

        threads = [threading.Thread(target=replay) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(published.ids) == sorted(ids)  # every one exactly once in total


def test_event_replay_needs_force_for_finished_events(db: Engine) -> None:
    with runtime_with(1) as rt:
        [done] = store(rt)
        process_events(rt, [done], FIXED)
        svc = service(rt)
        plain = svc.replay_events(OPS, [done, "evt_missing"])
        assert plain.replayed == []
        assert "force" in plain.skipped[done] and plain.skipped["evt_missing"] == "no such event"
        dry = svc.replay_events(OPS, [done], force=True, dry_run=True)
        assert dry.count == 1 and statuses(db) == {"processed": 1}
        forced = svc.replay_events(OPS, [done], force=True, reason="re-sync")
        assert forced.replayed == [done]
        process_events(rt, [done], FIXED)
        assert effects(db, done) == 2  # the test handler is not idempotent: it ran again
