"""The fault suite: real processes under steady load, one fault per scenario, on each broker.

See tests/faults/scenario.py for what every scenario checks afterwards, and the README's
"Fault suite" section for how to run it and what the summary lines mean.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.conftest import record
from tests.faults.rig import Rig
from tests.faults.scenario import Fault, Run, run_scenario

pytestmark = [pytest.mark.slow, pytest.mark.faults, pytest.mark.timeout(300)]


@dataclass(frozen=True)
class Scenario:
    name: str
    fault: Fault
    prepare: Callable[[Rig], None] | None = None  # before the scenario's commands are posted


def broker_restarted_empty(run: Run) -> None:
    run.rig.broker.restart_empty()


def pool_child_killed_mid_handler(run: Run) -> None:
    run.kill_mid_handler(run.rig.kill_pool_child)


def worker_main_process_killed(run: Run) -> None:
    # Not `kill_mid_handler`: the orphaned pool child may still finish and commit the
    # handler (fine: its main process never acks), so no failed attempt is guaranteed.
    run.rig.kill_worker_main(run.slow_event())


def sweeper_killed(run: Run) -> None:
    run.rig.kill_sweeper()


def web_worker_killed(run: Run) -> None:
    run.rig.kill_web_child()


def postgres_restarted_immediate(run: Run) -> None:
    run.rig.pg.restart("immediate")


def stripe_faults(rig: Rig) -> None:
    fake = rig.fake
    fake.fail_next("429", times=4)  # a burst: whatever the next requests are
    fake.fail_next("500", times=2, on="POST /v1/customers")
    fake.fail_next("drop", times=2, on="POST /v1/customers")  # created, answer lost
    fake.fail_next("500", times=1, on="POST /v1/checkout/sessions")
    fake.fail_next("drop", times=2, on="POST /v1/checkout/sessions")


def no_fault(run: Run) -> None:
    """The Stripe faults were queued before the commands; the load just runs."""


SCENARIOS = [
    Scenario("broker_restarted_empty", broker_restarted_empty),
    Scenario("pool_child_killed_mid_handler", pool_child_killed_mid_handler),
    Scenario("worker_main_process_killed", worker_main_process_killed),
    Scenario("sweeper_killed", sweeper_killed),
    Scenario("web_worker_killed", web_worker_killed),
    Scenario("postgres_restarted_immediate", postgres_restarted_immediate),
    Scenario("stripe_429_5xx_dropped", no_fault, prepare=stripe_faults),
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(rig: Rig, scenario: Scenario, tmp_path: Path) -> None:
    if scenario.prepare is not None:
        scenario.prepare(rig)
    result = run_scenario(
        rig, scenario.name, scenario.fault, tmp_path, seed=SCENARIOS.index(scenario)
    )
    if scenario.prepare is not None and rig.fake.state.faults:
        result.problems.append(f"injected Stripe faults never hit: {list(rig.fake.state.faults)}")
    record(result)
    assert not result.problems, "\n".join([result.line(), *result.problems, rig.logs()])
