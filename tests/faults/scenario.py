"""One fault scenario: steady load, one fault in the middle, settle, then check everything.

After the load stopped and the system settled: the event and mirror checks of
`tests/faults/checks.py`; every command succeeded and the fake Stripe created one customer
per account and one checkout session per command (`tests/faults/commands.py`); no request
answered 500 at any point (503 while Postgres restarts is allowed: it is not an ack, and the
loader retries like Stripe).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

from tests.faults.checks import FINAL, check_events, check_mirror, check_taken_back
from tests.faults.commands import Commands
from tests.faults.handlers import SLOW
from tests.faults.lifecycles import (
    Batch,
    Event,
    make_batch,
    plain_event,
)
from tests.faults.load import Ledger, Loader, Poller
from tests.faults.result import Result
from tests.faults.rig import COMMANDS_TOKEN, OPS_TOKEN, READ_TOKEN, Rig, auth
from tests.support.processes import wait_until

CUSTOMERS = 24  # x 17 events + 2 extra, +10 % duplicates: about 450 deliveries per scenario
RATE = 100.0  # deliveries per second


@dataclass
class Run:
    """The scenario in progress: what the fault code may use and add to."""

    rig: Rig
    ledger: Ledger
    workdir: Path
    slow: list[Event] = field(default_factory=list)
    killed: list[Event] = field(default_factory=list)  # slow events whose process was killed

    def post_until_acked(self, event: Event, timeout: float = 30) -> None:
        """Deliver one event now, retrying like Stripe, and count it as load."""
        loader = Loader(self.rig.url, self.ledger, threads=1).start([event])
        assert loader.wait(timeout), f"{event.type} was not acked"
        loader.close()

    def slow_event(self, sleep: float = 1.5) -> int:
        """Deliver a `faults.slow` event; return the pid of the pool child now running it."""
        pid_file = self.workdir / f"slow-{len(self.slow)}.pid"
        event = plain_event(SLOW, pid_file=str(pid_file), sleep=sleep)
        self.slow.append(event)
        self.post_until_acked(event)
        assert wait_until(lambda: pid_file.exists() and pid_file.read_text() != "", 30), (
            self.rig.logs()
        )
        return int(pid_file.read_text())

    def kill_mid_handler(self, kill: Callable[[int], None]) -> None:
        """Start a slow handler, then `kill(pid of the pool child running it)`."""
        pid = self.slow_event()
        self.killed.append(self.slow[-1])
        kill(pid)


Fault = Callable[[Run], None]


def run_scenario(rig: Rig, name: str, fault: Fault, workdir: Path, seed: int) -> Result:
    """Load, fault, settle, check; the result says what was measured and what is wrong."""
    rng = random.Random(seed)
    label = f"s{seed}"  # ids stay short and unique per scenario
    batch = make_batch(label, CUSTOMERS, rng)
    ledger = Ledger()
    run = Run(rig, ledger, workdir)
    commands = Commands(rig, ledger, label)
    loader = Loader(rig.url, ledger, rate=RATE).start(batch.deliveries)
    poller = Poller(rig.url, ledger, lambda: _poll_targets(batch, commands), rate=20).start()
    try:
        commands.post_all(rng)
        time.sleep(1.5)  # steady load first
        fault(run)
        loader_done = loader.wait(120)
        settled = wait_until(lambda: _settled(rig, ledger, commands), 120, 0.3)
    finally:
        loader.close()
        poller.close()
        rig.reap()
    result = Result(rig.broker.name, name, acked=len(ledger.acked), posts=ledger.posts)
    if not loader_done or ledger.gave_up:
        result.problems.append(f"deliveries never acked: {ledger.gave_up[:10]}")
    if not settled:
        result.problems.append(f"not settled in time: {_unsettled(rig, ledger, commands)}")
    check_events(rig, batch, run.slow, ledger, result)
    check_taken_back(rig, run.killed, result)
    check_mirror(rig, batch, result)
    commands.check(result)
    result.server_errors = ledger.count(500)
    result.unavailable = ledger.count(503)
    result.dropped = sum(ledger.connection_errors.values())
    if ledger.server_errors:
        result.problems.append(f"500 answers: {ledger.server_errors[:5]}")
    other = {k: n for k, n in ledger.statuses.items() if k[1] >= 500 and k[1] not in (500, 503)}
    if other:
        result.problems.append(f"unexpected 5xx answers: {other}")
    return result


# --- settling ----------------------------------------------------------------------------------


def _final_count(rig: Rig, ids: list[str]) -> int:
    with rig.db.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM stripe_events WHERE event_id = ANY(:ids)"
                    " AND status::text = ANY(:final)"
                ),
                {"ids": ids, "final": list(FINAL)},
            ).scalar_one()
        )


def _settled(rig: Rig, ledger: Ledger, commands: Commands) -> bool:
    try:
        ids = sorted(ledger.acked)
        return _final_count(rig, ids) == len(ids) and commands.finished()
    except Exception:  # the database restarting: not settled yet
        return False


def _unsettled(rig: Rig, ledger: Ledger, commands: Commands) -> Any:
    with rig.db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT status, count(*) FROM stripe_events WHERE event_id = ANY(:ids)"
                " GROUP BY status"
            ),
            {"ids": sorted(ledger.acked)},
        ).all()
    return {"events": dict(rows), "commands": commands.statuses()}


def _poll_targets(batch: Batch, commands: Commands) -> list[tuple[str, str, dict[str, str]]]:
    account = random.choice(batch.accounts)
    targets = [
        ("GET /v1/accounts/{ref}", f"/v1/accounts/{account}", auth(READ_TOKEN)),
        (
            "GET /v1/accounts/{ref}/subscriptions",
            f"/v1/accounts/{account}/subscriptions",
            auth(READ_TOKEN),
        ),
        ("GET /v1/accounts/{ref}/invoices", f"/v1/accounts/{account}/invoices", auth(READ_TOKEN)),
        ("GET /v1/notifications", "/v1/notifications?limit=20", auth(READ_TOKEN)),
        ("GET /readyz", "/readyz", {}),
        ("GET /metrics", "/metrics", {}),
        ("GET /v1/ops/stats", "/v1/ops/stats", auth(OPS_TOKEN)),
    ]
    if commands.ids:
        command_id = random.choice(commands.ids)
        targets.append(
            ("GET /v1/commands/{id}", f"/v1/commands/{command_id}", auth(COMMANDS_TOKEN))
        )
    return targets
