"""`billing dev` end to end on the embedded default: SQLite database, SQLite broker, no servers."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support.processes import ROOT, Proc, free_port, wait_until

pytestmark = pytest.mark.slow


def embedded_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "BROKER_URL", "STRIPE_WEBHOOK_SECRETS", "API_TOKENS"}
    }
    env["LOG_FORMAT"] = "json"
    return env


def start_dev(data_dir: Path, port: int, log: Path, **env: str) -> Proc:
    proc = Proc(
        [
            sys.executable,
            "-m",
            "workers.cli",
            "dev",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        embedded_env() | env,
        log,
    )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    assert wait_until(up, 60), proc.output()
    return proc


def send(data_dir: Path, port: int, what: str) -> dict[str, object]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "workers.cli",
            "send-event",
            what,
            "--data-dir",
            str(data_dir),
            "--url",
            f"http://127.0.0.1:{port}/webhooks/stripe",
        ],
        env=embedded_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # One line per event sent: `<event id> <type>: <status> <answer>`.
    answer = result.stdout.strip().splitlines()[-1].partition(": ")[2]
    status, _, body = answer.partition(" ")
    assert status == "200", result.stdout
    return orjson.loads(body)  # type: ignore[no-any-return]


def row(data_dir: Path, event_id: str) -> tuple[str, str | None] | None:
    with sqlite3.connect(data_dir / "billing.db") as conn:
        found = conn.execute(
            "SELECT status, processed_at FROM stripe_events WHERE event_id = ?", (event_id,)
        ).fetchone()
    return (found[0], found[1]) if found else None


def test_dev_processes_a_posted_event_and_keeps_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    port = free_port()
    dev = start_dev(data_dir, port, tmp_path / "dev1.log")
    try:
        assert send(data_dir, port, "invoice.paid") == {"received": True, "duplicate": False}
        event_file = tmp_path / "event.json"
        event_file.write_bytes(
            orjson.dumps(
                {
                    "id": "evt_embedded_1",
                    "object": "event",
                    "type": "customer.created",
                    "created": 1_700_000_000,
                    "data": {"object": {"id": "cus_1", "object": "customer"}},
                }
            )
        )
        assert send(data_dir, port, str(event_file))["duplicate"] is False
        assert wait_until(
            lambda: (row(data_dir, "evt_embedded_1") or ("",))[0] in {"processed", "ignored"}, 60
        ), dev.output()[-4000:]
        assert row(data_dir, "evt_embedded_1")[1] is not None  # type: ignore[index]
    finally:
        dev.stop()
    assert "whsec_" in (data_dir / "dev-secrets.json").read_text()
    # Restart on the same data directory: the event and the generated secret survive.
    dev = start_dev(data_dir, port, tmp_path / "dev2.log")
    try:
        assert send(data_dir, port, str(event_file)) == {"received": True, "duplicate": True}
        assert row(data_dir, "evt_embedded_1")[0] in {"processed", "ignored"}  # type: ignore[index]
    finally:
        dev.stop()


def test_sigterm_to_dev_stops_its_worker_and_sweeper(tmp_path: Path) -> None:
    """A process manager stops `billing dev` by signalling it alone: no child may outlive it."""
    port = free_port()
    dev = start_dev(tmp_path / "var", port, tmp_path / "dev.log")
    pid = dev.popen.pid
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        assert len(children) == 2, children  # worker and sweeper
        os.kill(pid, signal.SIGTERM)
        dev.popen.wait(30)
        assert wait_until(lambda: not any(Path(f"/proc/{c}").exists() for c in children), 30), (
            dev.output()[-4000:]
        )
    finally:
        dev.stop()


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _worker_of(dev: Proc) -> int:
    for child in _children(dev.pid):
        if "worker" in Path(f"/proc/{child}/cmdline").read_text():
            return child
    raise AssertionError("billing dev has no worker")


def _stop_between_transactions(pool: list[int], db: Path) -> None:
    """SIGSTOP the pool processes at a moment none of them holds the database's write lock."""
    for _ in range(100):
        for child in pool:
            os.kill(child, signal.SIGSTOP)
        try:
            with contextlib.closing(sqlite3.connect(db, timeout=0.2)) as conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.rollback()
            return
        except sqlite3.OperationalError:  # locked: let the transaction finish, try again
            for child in pool:
                os.kill(child, signal.SIGCONT)
            time.sleep(0.05)
    raise AssertionError("the worker pool always held the database's write lock")


def _done(data_dir: Path, ids: list[str]) -> int:
    with sqlite3.connect(data_dir / "billing.db") as conn:
        done = {
            event_id
            for (event_id, status) in conn.execute("SELECT event_id, status FROM stripe_events")
            if status in {"processed", "ignored"}
        }
    return len(done & set(ids))


def _ids_in_broker(data_dir: Path) -> set[str]:
    import base64

    with sqlite3.connect(data_dir / "broker.db") as conn:
        payloads = [orjson.loads(p) for (p,) in conn.execute("SELECT payload FROM kombu_message")]
    return {i for p in payloads for i in orjson.loads(base64.b64decode(p["body"]))[0][0]}


def test_messages_the_worker_fetched_ahead_are_not_lost_across_a_restart(tmp_path: Path) -> None:
    """The dev worker fetches several messages ahead (prefetch 4 on the SQLite broker, which
    has no broker-side ack): a worker killed with them in memory loses them from broker.db.
    Their events are still `queued` in billing.db; after a restart every one is processed."""
    from tests.support.stripe_events import event_body, signed_headers

    data_dir = tmp_path / "var"
    port = free_port()
    # While the worker holds them, the sweeper must not publish the events again (the tests'
    # 1 s grace would): that is what the restart, with the short grace, is to show.
    dev = start_dev(data_dir, port, tmp_path / "dev1.log", SWEEPER_GRACE_SECONDS="600")
    try:
        worker = _worker_of(dev)
        assert wait_until(lambda: bool(_children(worker)), 60), dev.output()[-4000:]
        pool = _children(worker)
        # The pool process stops (the worker's main process still fetches), outside a
        # transaction: stopped inside one (a maintenance task the sweeper asked for), it
        # would hold SQLite's write lock and every webhook would wait for it.
        _stop_between_transactions(pool, data_dir / "billing.db")
        secret = orjson.loads((data_dir / "dev-secrets.json").read_bytes())["webhook_secret"]
        ids = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(200):
                event_id, body = event_body()
                answer = client.post(
                    "/webhooks/stripe", content=body, headers=signed_headers(body, secret)
                )
                assert answer.status_code == 200, answer.text
                ids.append(event_id)

        def published_and_fetched() -> bool:
            with sqlite3.connect(data_dir / "billing.db") as conn:
                received = conn.execute(
                    "SELECT count(*) FROM stripe_events WHERE status = 'received'"
                ).fetchone()[0]
            return received == 0 and len(_ids_in_broker(data_dir)) < len(ids)

        assert wait_until(published_and_fetched, 60), dev.output()[-4000:]
        for pid in (worker, *pool):
            os.kill(pid, signal.SIGKILL)
        fetched_ahead = set(ids) - _ids_in_broker(data_dir)
        assert fetched_ahead and _done(data_dir, ids) == 0
    finally:
        dev.stop()
    dev = start_dev(data_dir, port, tmp_path / "dev2.log")
    try:
        assert wait_until(lambda: _done(data_dir, ids) == len(ids), 120), dev.output()[-4000:]
    finally:
        dev.stop()
