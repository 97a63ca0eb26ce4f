"""The archive file format: durable appends, torn members skipped, copies tolerated."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from domain.retention import PrunedEvent
from workers import archive


def event(n: int, day: int = 1) -> PrunedEvent:
    return PrunedEvent(
        event_id=f"evt_{n:06d}",
        type="invoice.paid",
        source="webhook",
        status="processed",
        received_at=datetime(2026, 8, day, 12, 0, n % 60, tzinfo=UTC),
        event_created=1_780_000_000 + n,
        processed_at=None,
        raw_body=orjson.dumps({"id": f"evt_{n:06d}", "pad": "x" * 500}).decode(),
    )


def ids(directory: Path) -> list[str]:
    return [
        str(r["event_id"])
        for p in archive.archive_files(directory)
        for r in archive.read_records(p)
    ]


def test_one_file_per_day_and_plain_gzip_reads_it(tmp_path: Path) -> None:
    written = archive.append(tmp_path, [event(1, day=1), event(2, day=2), event(3, day=1)])
    assert sorted(p.name for p in written) == [
        "events-2026-08-01.jsonl.gz",
        "events-2026-08-02.jsonl.gz",
    ]
    archive.append(tmp_path, [event(4, day=1)])  # a second member appended to the same day
    lines = gzip.decompress((tmp_path / "events-2026-08-01.jsonl.gz").read_bytes()).splitlines()
    assert [orjson.loads(line)["event_id"] for line in lines] == [
        "evt_000001",
        "evt_000003",
        "evt_000004",
    ]
    record = archive.find_event(tmp_path, "evt_000004")
    assert record is not None and record["received_at"] == "2026-08-01T12:00:04Z"
    assert archive.find_event(tmp_path, "evt_000002", datetime(2026, 8, 1).date()) is None


def test_a_member_torn_by_a_crash_is_skipped_and_later_appends_stay_readable(
    tmp_path: Path,
) -> None:
    archive.append(tmp_path, [event(n) for n in range(1, 101)])
    path = archive.archive_path(tmp_path, datetime(2026, 8, 1).date())
    # A crash mid-write: half a member at the end; those events were never deleted...
    torn = gzip.compress(
        b"".join(orjson.dumps({"event_id": f"evt_{n:06d}"}) + b"\n" for n in range(101, 301)),
        mtime=0,
    )
    with path.open("ab") as f:
        f.write(torn[: len(torn) // 2])
    # ...so the next prune archives them again, after the torn bytes.
    archive.append(tmp_path, [event(n) for n in range(101, 301)])
    archive.append(tmp_path, [event(n) for n in range(301, 311)])
    got = ids(tmp_path)
    assert set(got) == {f"evt_{n:06d}" for n in range(1, 311)}
    record = archive.find_event(tmp_path, "evt_000250")
    assert record is not None and "raw_body" in record  # the complete copy, not the torn one
    assert archive.find_event(tmp_path, "evt_000310") is not None


def test_an_event_archived_twice_reads_as_one(tmp_path: Path) -> None:
    archive.append(tmp_path, [event(1), event(2)])
    archive.append(tmp_path, [event(2), event(3)])  # re-run after a crash before the delete
    assert sorted(set(ids(tmp_path))) == ["evt_000001", "evt_000002", "evt_000003"]
    assert archive.find_event(tmp_path, "evt_000002") == archive.find_event(tmp_path, "evt_000002")


def test_a_failed_write_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive.append(tmp_path, [event(1)])
    path = archive.archive_path(tmp_path, datetime(2026, 8, 1).date())
    before = path.read_bytes()
    real_write = os.write

    def half_then_fail(fd: int, data: memoryview) -> int:
        real_write(fd, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(archive.os, "write", half_then_fail)
    with pytest.raises(OSError):
        archive.append(tmp_path, [event(2)])
    assert path.read_bytes() == before
