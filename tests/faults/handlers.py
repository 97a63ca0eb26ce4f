"""A handler the fault suite uses to be sure a worker dies *mid-handler*.

`faults.slow` writes the pid of the process running it to `data.object.pid_file`, sleeps
`data.object.sleep` seconds, then records its effect (one `test_effects` row per committed
run, so a duplicated effect shows). The suite waits for the pid file and kills that process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from domain.envelope import EventEnvelope
from domain.mirror.unit import Registration, Unit
from tests.support.handlers import record

SLOW = "faults.slow"


def slow_with_pid(unit: Unit, event: EventEnvelope) -> None:
    """Announce who runs it, take long enough to be killed, then commit one effect."""
    pid_file = Path(str(event.object["pid_file"]))
    pid_file.write_text(str(os.getpid()))
    time.sleep(float(event.object.get("sleep", 3)))
    record(unit, event)


FAULT_REGISTRY: dict[str, Registration] = {SLOW: Registration(slow_with_pid)}
