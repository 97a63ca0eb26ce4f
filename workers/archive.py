"""The event archive: pruned raw payloads as gzip JSON-lines, one file per receive day.

`append` writes one gzip member per batch and day with a single O_APPEND write under an
exclusive flock, then fsyncs (and fsyncs the directory when it made the file), all before
the caller deletes the rows. A failed write is truncated back; a crash mid-write leaves a
torn member at the end, whose events were not deleted (their batch never committed), so the
next prune archives them again. Reading therefore tolerates both: a torn member is skipped
(reading resumes at the next member header) and an event present twice is the same event.
`zcat` reads an archive whose last write completed.
"""

from __future__ import annotations

import fcntl
import gzip
import os
import zlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from domain.retention import PrunedEvent

PREFIX = "events-"
SUFFIX = ".jsonl.gz"
# gzip.compress(..., mtime=0) starts every member with these bytes (no name, mtime 0).
_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00"
_CHUNK = 1 << 20


def archive_path(directory: Path, day: date) -> Path:
    return directory / f"{PREFIX}{day.isoformat()}{SUFFIX}"


def _line(event: PrunedEvent) -> bytes:
    return orjson.dumps(
        {
            "event_id": event.event_id,
            "type": event.type,
            "source": event.source,
            "status": event.status,
            "received_at": event.received_at,
            "event_created": event.event_created,
            "processed_at": event.processed_at,
            "raw_body": event.raw_body,
        },
        option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE,
    )


def append(directory: Path, events: Sequence[PrunedEvent]) -> dict[Path, int]:
    """Archive `events` durably (fsynced) into their days' files; return events per file."""
    by_day: dict[date, list[bytes]] = defaultdict(list)
    for event in events:
        by_day[event.received_at.date()].append(_line(event))
    if by_day:
        directory.mkdir(parents=True, exist_ok=True)
    written: dict[Path, int] = {}
    for day, lines in sorted(by_day.items()):
        path = archive_path(directory, day)
        _append_member(path, gzip.compress(b"".join(lines), compresslevel=6, mtime=0))
        written[path] = len(lines)
    return written


def _append_member(path: Path, member: bytes) -> None:
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # two pruners never interleave members of one file
        size = os.fstat(fd).st_size
        try:
            view = memoryview(member)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, size)  # nothing half-written stays behind a clean failure
            raise
    finally:
        os.close(fd)
    if created:
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def archive_files(directory: Path, day: date | None = None) -> list[Path]:
    """The archive's day files, newest day first (only `day`'s when given)."""
    if day is not None:
        path = archive_path(directory, day)
        return [path] if path.exists() else []
    return sorted(directory.glob(f"{PREFIX}*{SUFFIX}"), reverse=True)


def find_event(directory: Path, event_id: str, day: date | None = None) -> dict[str, Any] | None:
    """The archived record of `event_id` (its first copy), searching newest day first."""
    needle = b'"event_id":' + orjson.dumps(event_id) + b","
    for path in archive_files(directory, day):
        with path.open("rb") as f:
            for line in _lines(f):
                if needle in line:
                    record = _record(line)
                    if record is not None and record.get("event_id") == event_id:
                        return record
    return None


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every readable record of one archive file, in write order (copies included)."""
    with path.open("rb") as f:
        for line in _lines(f):
            record = _record(line)
            if record is not None:
                yield record


def _record(line: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None  # the torn end of a member cut by a crash
    return value if isinstance(value, dict) and isinstance(value.get("event_id"), str) else None


def _lines(f: BinaryIO) -> Iterator[bytes]:
    """Complete lines of every intact member; a torn member is skipped to the next header."""
    start = 0  # file offset of the member being read
    while True:
        f.seek(start)
        decoder = zlib.decompressobj(wbits=31)
        tail = b""
        consumed = 0
        try:
            while not decoder.eof:
                data = f.read(_CHUNK)
                if not data:
                    raise EOFError  # the member ends early: torn by a crash
                consumed += len(data)
                out = tail + decoder.decompress(data)
                *complete, tail = out.split(b"\n")
                yield from complete
        except (zlib.error, EOFError):
            found = _next_header(f, start + 1)
            if found is None:
                return
            start = found
            continue
        after = start + consumed - len(decoder.unused_data)
        if not decoder.unused_data and not f.read(1):
            return
        start = after


def _next_header(f: BinaryIO, offset: int) -> int | None:
    f.seek(offset)
    carry = b""
    base = offset
    while True:
        data = f.read(_CHUNK)
        if not data:
            return None
        window = carry + data
        at = window.find(_HEADER)
        if at >= 0:
            return base - len(carry) + at
        carry = window[-(len(_HEADER) - 1) :]
        base += len(data)
