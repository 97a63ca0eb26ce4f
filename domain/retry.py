"""Retry policy as a pure function: exponential backoff with jitter, bounded attempts."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Delays grow as base * 2**(attempt-1), capped; `max_attempts` failures mean dead."""

    base_seconds: float
    cap_seconds: float
    max_attempts: int

    def exhausted(self, attempts: int) -> bool:
        """True when `attempts` failures use up the budget."""
        return attempts >= self.max_attempts

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failure number `attempt` (1-based).

        "Equal jitter": half the exponential step is fixed and half is random, so delays
        never shrink from one attempt to the next yet retries of a burst spread out.
        """
        step = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempt - 1))
        return step / 2 + (rng or random).uniform(0, step / 2)
