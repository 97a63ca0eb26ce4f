"""One fault scenario: steady load, one fault in the middle, settle, then check everything.

The checks, after the load stopped and the system settled:
- every acked event is stored and ends processed/ignored/dead, and no valid one is dead;
- the mirror (and its notifications) equals the in-order run of the same unique events,
  applied one at a time through the real handlers to a fresh database;
- no effect is duplicated: notifications are unique per (event, kind) and as many as the
  in-order run's; every slow test handler committed its effect once, the failing one never;
  the fake Stripe created one customer per account and one checkout session per command;
- no request answered 500 at any point (503 while Postgres restarts is allowed: it is not
  an ack, and the loader retries like Stripe).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import text

from tests.faults.handlers import SLOW
from tests.faults.lifecycles import (
    ACCOUNT_PREFIX,
    FAILING_TYPE,
    UNKNOWN_TYPE,
    Batch,
    Event,
    make_batch,
    plain_event,
)
from tests.faults.load import Ledger, Loader, Poller
from tests.faults.rig import COMMANDS_TOKEN, OPS_TOKEN, READ_TOKEN, Rig, auth
from tests.mirror.support import apply, snapshot
from tests.support.processes import wait_until

FINAL = ("processed", "ignored", "dead")
CUSTOMERS = 24  # x 17 events + 2 extra, +10 % duplicates: about 450 deliveries per scenario
RATE = 100.0  # deliveries per second
COMMAND_ACCOUNTS = 2  # customer.ensure + checkout.create each, per scenario


@dataclass
class Result:
    """What one scenario measured; `problems` is empty when every check passed."""

    broker: str
    name: str
    acked: int = 0
    posts: int = 0
    lost: int = 0
    duplicated_effects: int = 0
    server_errors: int = 0
    unavailable: int = 0
    dropped: int = 0
    commands: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"faults({self.broker}) {self.name}: {self.acked} events acked "
            f"({self.posts} deliveries), {self.lost} lost, {self.duplicated_effects} "
            f"duplicated effects, {self.server_errors} 500s; retried {self.unavailable} 503s "
            f"and {self.dropped} dropped connections; {self.commands} commands"
        )


@dataclass
class Run:
    """The scenario in progress: what the fault code may use and add to."""

    rig: Rig
    ledger: Ledger
    workdir: Path
    slow: list[Event] = field(default_factory=list)

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
    _check_events(rig, batch, run, ledger, result)
    _check_mirror(rig, batch, result)
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


# --- events and the mirror ---------------------------------------------------------------------


def _check_events(rig: Rig, batch: Batch, run: Run, ledger: Ledger, result: Result) -> None:
    sent = {e.event_id: e for e in [*batch.events, *run.slow]}
    if set(ledger.acked) != set(sent):
        result.problems.append(f"not every event was acked: {sorted(set(sent) - ledger.acked)[:5]}")
    with rig.db.connect() as conn:
        rows = dict(
            conn.execute(
                text("SELECT event_id, status FROM stripe_events WHERE event_id = ANY(:ids)"),
                {"ids": sorted(ledger.acked)},
            ).all()
        )
        effects = dict(
            conn.execute(
                text(
                    "SELECT event_id, count(*) FROM test_effects WHERE event_id = ANY(:ids)"
                    " GROUP BY event_id"
                ),
                {"ids": sorted(sent)},
            ).all()
        )
        dead_letters = set(
            conn.execute(
                text("SELECT event_id FROM dead_letters WHERE event_id = ANY(:ids)"),
                {"ids": sorted(sent)},
            ).scalars()
        )
    lost = [i for i in ledger.acked if rows.get(i) not in FINAL]
    result.lost = len(lost)
    if lost:
        result.problems.append(f"acked but not finished: {[(i, rows.get(i)) for i in lost[:5]]}")
    expected = {
        i: "dead"
        if e.type == FAILING_TYPE
        else "ignored"
        if e.type == UNKNOWN_TYPE
        else "processed"
        for i, e in sent.items()
    }
    wrong = {i: (rows.get(i), want) for i, want in expected.items() if rows.get(i) != want}
    if wrong:
        result.problems.append(f"wrong final status (got, want): {list(wrong.items())[:5]}")
    missing_letters = [
        i for i, want in expected.items() if want == "dead" and i not in dead_letters
    ]
    if missing_letters:
        result.problems.append(f"dead without a dead letter: {missing_letters}")
    for event in run.slow:
        if effects.get(event.event_id, 0) != 1:
            result.duplicated_effects += max(0, effects.get(event.event_id, 0) - 1)
            result.problems.append(
                f"slow handler committed {effects.get(event.event_id, 0)} effects, want 1"
            )
    for event in batch.extra:
        if event.type == FAILING_TYPE and effects.get(event.event_id, 0):
            result.problems.append("the failing handler's write was committed")


def _check_mirror(rig: Rig, batch: Batch, result: Result) -> None:
    for event in batch.in_order:  # Stripe's order, one at a time, through the real processor
        apply(rig.reference, orjson.loads(event.body))
    live, reference = _loader_rows(snapshot(rig.db)), snapshot(rig.reference.engine)
    with rig.db.connect() as conn:
        repeated = conn.execute(
            text("SELECT event_id, kind FROM notifications GROUP BY 1, 2 HAVING count(*) > 1")
        ).all()
    extra = len(live["notifications"]) - len(reference["notifications"])
    result.duplicated_effects += len(repeated) + max(0, extra)
    if repeated or extra:
        result.problems.append(f"notifications: {extra:+d} vs in-order, repeated {repeated[:5]}")
    for table in reference:
        if live[table] != reference[table]:
            diff = [r for r in live[table] if r not in reference[table]][:3]
            gone = [r for r in reference[table] if r not in live[table]][:3]
            result.problems.append(f"mirror {table} differs: extra {diff}, missing {gone}")


def _loader_rows(snap: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The snapshot without the rows commands wrote (their accounts are not the loader's)."""

    def ours(row: dict[str, Any]) -> bool:
        ref = row.get("account_ref")
        event_id = row.get("event_id")
        return (ref is None or ref.startswith(ACCOUNT_PREFIX)) and (
            event_id is None or event_id.startswith("evt_")
        )

    return {table: [r for r in rows if ours(r)] for table, rows in snap.items()}


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


# --- commands ----------------------------------------------------------------------------------


class Commands:
    """A few commands per scenario through the API, and what the fake Stripe must show."""

    def __init__(self, rig: Rig, ledger: Ledger, label: str) -> None:
        self.rig, self.ledger, self.label = rig, ledger, label
        self.ids: list[str] = []
        self.accounts: list[str] = []
        self.checkouts = 0
        self.customers_before = rig.fake.created("customer")
        self.checkouts_before = rig.fake.created("checkout.session")

    def _post(self, client: httpx.Client, body: dict[str, Any], key: str) -> str:
        route = "POST /v1/commands"
        deadline = time.monotonic() + 60
        while True:  # a product service retries with the same key until it gets an answer
            try:
                response = client.post("/v1/commands", json=body, headers={"Idempotency-Key": key})
            except httpx.HTTPError as exc:
                self.ledger.failed(route, exc)
            else:
                self.ledger.answer(route, response.status_code, response.text)
                if response.status_code in (200, 201, 202):
                    return str(response.json()["id"])
                assert response.status_code in (500, 503), response.text
            assert time.monotonic() < deadline, f"command {key} never accepted"
            time.sleep(0.3)

    def post_all(self, rng: random.Random) -> None:
        with httpx.Client(base_url=self.rig.url, headers=auth(COMMANDS_TOKEN), timeout=10) as c:
            for n in range(COMMAND_ACCOUNTS):
                account = f"acct_cmd_{self.label}_{n}"
                self.accounts.append(account)
                base = {"account_ref": account}
                ensure = {**base, "type": "customer.ensure", "params": {"email": "a@example.com"}}
                checkout = {
                    **base,
                    "type": "checkout.create",
                    "params": {
                        "tier": "pro",
                        "interval": rng.choice(["month", "year"]),
                        "success_url": "https://app.example/ok",
                        "cancel_url": "https://app.example/no",
                    },
                }
                first = self._post(c, ensure, f"{account}-ensure")
                # The same request again (a retry by the product): the same command.
                assert self._post(c, ensure, f"{account}-ensure") == first
                self.ids += [first, self._post(c, checkout, f"{account}-checkout")]
                self.checkouts += 1

    def statuses(self) -> dict[str, str]:
        with self.rig.db.connect() as conn:
            return dict(
                conn.execute(
                    text("SELECT id::text, status FROM commands WHERE id::text = ANY(:ids)"),
                    {"ids": self.ids},
                ).all()
            )

    def finished(self) -> bool:
        statuses = self.statuses()
        return len(statuses) == len(self.ids) and all(
            s in ("succeeded", "failed", "dead") for s in statuses.values()
        )

    def check(self, result: Result) -> None:
        result.commands = len(self.ids)
        statuses = self.statuses()
        bad = {i: s for i, s in statuses.items() if s != "succeeded"}
        if bad or len(statuses) != len(self.ids):
            result.problems.append(f"commands not succeeded: {bad}")
        customers = self.rig.fake.created("customer") - self.customers_before
        checkouts = self.rig.fake.created("checkout.session") - self.checkouts_before
        result.duplicated_effects += max(0, customers - len(self.accounts))
        result.duplicated_effects += max(0, checkouts - self.checkouts)
        if (customers, checkouts) != (len(self.accounts), self.checkouts):
            result.problems.append(
                f"fake Stripe created {customers} customers and {checkouts} checkout sessions,"
                f" want {len(self.accounts)} and {self.checkouts}"
            )
